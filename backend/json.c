#include "json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* cJSON nodes are the json nodes: the facade only renames. */
#define C(j) ((cJSON *)(j))
#define J(c) ((json *)(c))

json *json_parse(const char *s, size_t len, size_t *err_off)
{
	const char *end = NULL;
	cJSON *c = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (!c) {
		if (err_off)
			*err_off = end ? (size_t)(end - s) : len;
		return NULL;
	}
	/* cJSON stops after the first value; only whitespace may follow. */
	size_t off = (size_t)(end - s);
	while (off < len && (s[off] == ' ' || s[off] == '\t' || s[off] == '\n' || s[off] == '\r'))
		off++;
	if (off < len) {
		cJSON_Delete(c);
		if (err_off)
			*err_off = off;
		return NULL;
	}
	return J(c);
}

void json_free(json *j) { cJSON_Delete(C(j)); }
json *json_dup(const json *j) { return J(cJSON_Duplicate(C(j), 1)); }

bool json_is_object(const json *j) { return j && cJSON_IsObject(C(j)); }
bool json_is_array(const json *j) { return j && cJSON_IsArray(C(j)); }
bool json_is_string(const json *j) { return j && cJSON_IsString(C(j)); }
bool json_is_bool(const json *j) { return j && cJSON_IsBool(C(j)); }
bool json_is_number(const json *j) { return j && cJSON_IsNumber(C(j)); }
bool json_is_null(const json *j) { return j && cJSON_IsNull(C(j)); }

const char *json_string(const json *j)
{
	return json_is_string(j) ? C(j)->valuestring : NULL;
}

bool json_bool(const json *j) { return j && cJSON_IsTrue(C(j)); }
double json_number(const json *j) { return json_is_number(j) ? C(j)->valuedouble : 0; }

json *json_get(const json *obj, const char *key)
{
	if (!json_is_object(obj))
		return NULL;
	return J(cJSON_GetObjectItemCaseSensitive(C(obj), key));
}

size_t json_size(const json *j)
{
	if (!json_is_object(j) && !json_is_array(j))
		return 0;
	return (size_t)cJSON_GetArraySize(C(j));
}

json *json_at(const json *j, size_t i)
{
	size_t n = 0;
	for (json *e = json_first(j); e; e = json_next(e), n++)
		if (n == i)
			return e;
	return NULL;
}

json *json_first(const json *j)
{
	if (!json_is_object(j) && !json_is_array(j))
		return NULL;
	return J(C(j)->child);
}

json *json_next(const json *j) { return j ? J(C(j)->next) : NULL; }
const char *json_key(const json *m) { return m ? C(m)->string : NULL; }

json *json_new_object(void) { return J(cJSON_CreateObject()); }
json *json_new_array(void) { return J(cJSON_CreateArray()); }
json *json_new_string(const char *s) { return J(cJSON_CreateString(s)); }
json *json_new_bool(bool v) { return J(cJSON_CreateBool(v)); }
json *json_new_number(double v) { return J(cJSON_CreateNumber(v)); }
json *json_new_null(void) { return J(cJSON_CreateNull()); }

int json_add(json *obj, const char *key, json *item)
{
	if (!item)
		return -ENOMEM;
	if (!cJSON_AddItemToObject(C(obj), key, C(item))) {
		cJSON_Delete(C(item));
		return -ENOMEM;
	}
	return 0;
}

int json_add_string(json *obj, const char *key, const char *s) { return json_add(obj, key, json_new_string(s)); }
int json_add_bool(json *obj, const char *key, bool v) { return json_add(obj, key, json_new_bool(v)); }
int json_add_number(json *obj, const char *key, double v) { return json_add(obj, key, json_new_number(v)); }

int json_append(json *arr, json *item)
{
	if (!item)
		return -ENOMEM;
	if (!cJSON_AddItemToArray(C(arr), C(item))) {
		cJSON_Delete(C(item));
		return -ENOMEM;
	}
	return 0;
}

char *json_print(const json *j, bool pretty)
{
	return pretty ? cJSON_Print(C(j)) : cJSON_PrintUnformatted(C(j));
}

bool json_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		size_t n;
		unsigned cp;
		if (c == 0)
			return false;
		if (c < 0x80) { i++; continue; }
		if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
		else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
		else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
		else return false;
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3F);
		}
		/* Reject overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += n + 1;
	}
	return true;
}

size_t json_utf8_length(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			n++;
	return n;
}
