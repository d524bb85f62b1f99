#include "json.h"

#include "buf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* cJSON nodes are the json nodes: the facade only renames. */
#define C(j) ((cJSON *)(j))
#define J(c) ((json *)(c))

json *json_parse(const char *s, size_t len, size_t *err_off)
{
	/* The scanner judges syntax: cJSON's error offset is where the value
	 * it gave up on began, and it takes a few things JSON does not. */
	struct json_scan sc = json_scan(s, len);
	if (sc.end != JSON_COMPLETE) {
		if (err_off)
			*err_off = sc.end == JSON_INCOMPLETE ? len : sc.err_off;
		return NULL;
	}
	const char *end = NULL;
	cJSON *c = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (!c) {
		if (err_off)
			*err_off = end ? (size_t)(end - s) : 0;
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

/* Pretty form: four-space indents and "key": value, as the aws CLI prints
 * JSON, so its output and trailfs's files can be compared with diff. */
#define JSON_INDENT 4
#define JSON_PRINT_MAX (256u * 1024 * 1024)

static int print_pretty(const cJSON *c, struct buf *out, int depth)
{
	int r = 0;
	if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
		bool obj = cJSON_IsObject(c);
		if (!c->child)
			return buf_puts(out, obj ? "{}" : "[]");
		r = buf_puts(out, obj ? "{\n" : "[\n");
		for (const cJSON *e = c->child; r == 0 && e; e = e->next) {
			r = buf_printf(out, "%*s", (depth + 1) * JSON_INDENT, "");
			if (r == 0 && obj) {
				cJSON *key = cJSON_CreateString(e->string);
				char *k = key ? cJSON_PrintUnformatted(key) : NULL;
				r = k ? buf_printf(out, "%s: ", k) : -ENOMEM;
				free(k);
				cJSON_Delete(key);
			}
			if (r == 0)
				r = print_pretty(e, out, depth + 1);
			if (r == 0)
				r = buf_puts(out, e->next ? ",\n" : "\n");
		}
		if (r == 0)
			r = buf_printf(out, "%*s%c", depth * JSON_INDENT, "", obj ? '}' : ']');
		return r;
	}
	char *text = cJSON_PrintUnformatted(c);
	r = text ? buf_puts(out, text) : -ENOMEM;
	free(text);
	return r;
}

char *json_print(const json *j, bool pretty)
{
	if (!pretty)
		return cJSON_PrintUnformatted(C(j));
	struct buf out;
	buf_init(&out, JSON_PRINT_MAX);
	if (print_pretty(C(j), &out, 0) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_take(&out);
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

/* ---- is this JSON, the beginning of JSON, or neither? ----
 * A streaming syntax check.  It tells a document that is still arriving (a
 * setting written in several pieces) from one that is already wrong, and it
 * is the judge of syntax for json_parse too, so that what a growing value
 * passes is exactly what the finished value must pass. */

#define JSON_NESTING_MAX 1000
#define JSON_NUMBER_MAX 512

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex4(const char *s)
{
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		char c = s[k];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : ascii_lower(c) - 'a' + 10);
	}
	return v;
}

/* Scan "\uXXXX" at s[i] (s[i] == '\\', s[i+1] == 'u').  Returns 1 and
 * advances *i when complete, 0 when the input ends inside it, -1 on error,
 * -2 for \u0000. */
static int scan_u_escape(const char *s, size_t len, size_t *i)
{
	size_t k = *i + 2;
	for (size_t n = 0; n < 4; n++, k++) {
		if (k >= len)
			return 0;
		if (!is_hex(s[k]))
			return -1;
	}
	unsigned u = hex4(s + *i + 2);
	/* cJSON ends its string at an escaped NUL, so "Allow\u0000x" would be
	 * checked as "Allow": no policy string needs one. */
	if (u == 0)
		return -2;
	/* cJSON's rules: a low surrogate alone is an error, a high one must be
	 * followed at once by an escaped low one. */
	if (u >= 0xDC00 && u <= 0xDFFF)
		return -1;
	if (u >= 0xD800 && u <= 0xDBFF) {
		const char *want = "\\u";
		for (size_t n = 0; n < 2; n++, k++) {
			if (k >= len)
				return 0;
			if (s[k] != want[n])
				return -1;
		}
		/* Only \uDC00..\uDFFF can follow: check the digits seen so far. */
		for (size_t n = 0; n < 4; n++, k++) {
			if (k >= len)
				return 0;
			if (!is_hex(s[k]))
				return -1;
			if (n == 0 && ascii_lower(s[k]) != 'd')
				return -1;
			if (n == 1 && !(ascii_lower(s[k]) >= 'c' && ascii_lower(s[k]) <= 'f'))
				return -1;
		}
	}
	*i = k;
	return 1;
}

/* A string starting at s[*i] == '"'.  1: complete, *i after it; 0: the
 * input ends inside it; -1: error at *i; -2: \u0000 at *i. */
static int scan_string(const char *s, size_t len, size_t *i)
{
	size_t k = *i + 1;
	while (k < len) {
		char c = s[k];
		if (c == '"') {
			*i = k + 1;
			return 1;
		}
		if (c != '\\') {
			k++;
			continue;
		}
		if (k + 1 >= len)
			return 0;
		char e = s[k + 1];
		if (strchr("\"\\/bfnrt", e)) {
			k += 2;
		} else if (e == 'u') {
			int r = scan_u_escape(s, len, &k);
			if (r <= 0) {
				*i = k;
				return r;
			}
		} else {
			*i = k;
			return -1;
		}
	}
	return 0;
}

static bool number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/* Does strtod take all of the text? */
static bool strtod_whole(const char *text)
{
	char *end;
	(void)strtod(text, &end);
	return end != text && *end == '\0';
}

/* A number as cJSON reads one: the run of [0-9+-.eE] is given to strtod,
 * which must take all of it.  1: complete, *i after it; 0: the input ends
 * inside it and some continuation could make it a number; -1: error. */
static int scan_number(const char *s, size_t len, size_t *i)
{
	size_t k = *i;
	while (k < len && number_char(s[k]))
		k++;
	/* Longer runs are not numbers anyone writes; refusing them keeps the
	 * copy for strtod on the stack. */
	char text[JSON_NUMBER_MAX + 2];
	size_t n = k - *i;
	if (n > JSON_NUMBER_MAX)
		return -1;
	memcpy(text, s + *i, n);
	text[n] = '\0';
	int r;
	if (strtod_whole(text)) {
		r = k < len ? 1 : 0;
	} else if (k == len) {
		/* "-", "1e", "1e+" end early: one more digit would finish them. */
		text[n] = '0';
		text[n + 1] = '\0';
		r = strtod_whole(text) ? 0 : -1;
	} else {
		r = -1;
	}
	if (r == 1)
		*i = k;
	return r;
}

/* true, false, null: 1 complete, 0 cut off, -1 error. */
static int scan_literal(const char *s, size_t len, size_t *i)
{
	static const char *const words[] = {"true", "false", "null"};
	for (size_t w = 0; w < 3; w++) {
		if (s[*i] != words[w][0])
			continue;
		size_t n = strlen(words[w]), k = 0;
		while (k < n && *i + k < len && s[*i + k] == words[w][k])
			k++;
		if (k == n) {
			*i += n;
			return 1;
		}
		/* Reported at the start of the word, as cJSON does. */
		return *i + k == len ? 0 : -1;
	}
	return -1;
}

/* Is s[0..len) JSON, the start of JSON, or neither?  A small pushdown
 * scanner that mirrors what cJSON accepts (it is lax in the same places:
 * any byte up to 0x20 is whitespace, raw control bytes may sit in strings,
 * numbers are whatever strtod takes).  json_parse's error offset cannot
 * answer this: cJSON reports the start of the value it gave up on, so "{"
 * fails at offset 0, not at the end. */
struct json_scan json_scan(const char *s, size_t len)
{
	enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, AFTER } st = VALUE;
	unsigned char stack[JSON_NESTING_MAX];   /* '{' or '[' per open level */
	struct json_scan out = {JSON_INCOMPLETE, 0, NULL, false, 0};
	size_t depth = 0, i = 0;
	int r = -1;

	while (i < len) {
		char c = s[i];
		r = -1;
		if ((unsigned char)c <= 0x20) {
			i++;
			continue;
		}
		if ((st == VALUE_OR_CLOSE && c == ']') || (st == KEY_OR_CLOSE && c == '}')) {
			depth--;
			st = AFTER;
			i++;
			continue;
		}
		switch (st) {
		case VALUE:
		case VALUE_OR_CLOSE:
			if (c == '{' || c == '[') {
				if (depth >= JSON_NESTING_MAX) {
					out.why = "it nests objects and arrays too deeply";
					goto error;
				}
				stack[depth++] = (unsigned char)c;
				st = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
				i++;
				continue;
			}
			if (c == '"')
				r = scan_string(s, len, &i);
			else if (c == '-' || (c >= '0' && c <= '9'))
				r = scan_number(s, len, &i);
			else
				r = scan_literal(s, len, &i);
			if (r < 0)
				goto error;
			if (r == 0) {
				out.in_string = c == '"';
				goto incomplete;
			}
			st = AFTER;
			continue;
		case KEY:
		case KEY_OR_CLOSE:
			if (c != '"')
				goto error;
			r = scan_string(s, len, &i);
			if (r < 0)
				goto error;
			if (r == 0) {
				out.in_string = true;
				goto incomplete;
			}
			st = COLON;
			continue;
		case COLON:
			if (c != ':')
				goto error;
			st = VALUE;
			i++;
			continue;
		case AFTER:
			if (depth == 0)
				goto error;
			if (c == ',') {
				st = stack[depth - 1] == '{' ? KEY : VALUE;
			} else if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
				depth--;
			} else {
				goto error;
			}
			i++;
			continue;
		}
	}
	if (st == AFTER && depth == 0)
		out.end = JSON_COMPLETE;
incomplete:
	out.depth = depth;
	return out;
error:
	if (r == -2)
		out.why = "it has \\u0000 in a string";
	out.end = JSON_BROKEN;
	out.err_off = i;
	return out;
}


bool json_prefix_ok(const char *s, size_t len)
{
	return json_scan(s, len).end != JSON_BROKEN;
}

void json_locate(const char *s, size_t len, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t k = 0; k < off && k < len; k++) {
		if (s[k] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)s[k] & 0xC0) != 0x80) {
			(*col)++;
		}
	}
}

bool json_u64(const json *j, uint64_t *out)
{
	if (!json_is_number(j) || json_number(j) < 0 || json_number(j) > 9007199254740992.0)
		return false;
	*out = (uint64_t)json_number(j);
	return true;
}

const json *json_each_first(const json *v)
{
	return json_is_array(v) ? json_first(v) : v;
}

const json *json_each_next(const json *v, const json *cur)
{
	return json_is_array(v) ? json_next(cur) : NULL;
}
