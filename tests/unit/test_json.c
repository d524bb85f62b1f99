/* Unit tests for backend/json.c: the cJSON facade, UTF-8 checks and the
 * streaming "could this still become JSON" check. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static const struct {
	const char *text;
	bool prefix;   /* could be (the start of) a JSON document */
} prefixes[] = {
	{ "", true }, { "  ", true }, { "{", true }, { "{\"a\"", true }, { "{\"a\":", true },
	{ "{\"a\": tr", true }, { "{\"a\": true", true }, { "{\"a\": true}", true },
	{ "{\"a\": true} ", true }, { "{\"a\": true}}", false }, { "{\"a\": x", false },
	{ "{\"a\" 1", false }, { "{1:2}", false }, { "[1, 2", true }, { "[1,, 2]", false },
	{ "[1, 2]x", false }, { "-", true }, { "-0.", true }, { "-0.5e", true }, { "-0.5e+3", true },
	{ "01", true } /* cJSON reads it */, { "1.x", false }, { "\"abc\\", true }, { "\"abc\\u12", true },
	{ "\"abc\\u12g", false }, { "\"a\\q\"", false }, { "\"tab\there\"", true } /* as cJSON does */, { "\"\\u0000\"", false }, { "\"\\uZZZZ\"", false },
	{ "nul", true }, { "nulx", false }, { "[", true }, { "]", false }, { "{}", true },
	{ "{,}", false }, { "[true, false, null]", true }, { "{\"a\":[{\"b\":[]}]", true },
	{ "{\"a\":[}", false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		ok(json_prefix_ok(prefixes[i].text, strlen(prefixes[i].text)) == prefixes[i].prefix,
		   "prefix \"%s\" -> %s", prefixes[i].text, prefixes[i].prefix ? "ok" : "wrong");

	size_t off = 0;
	ok(!json_parse("{\"a\": tr", 8, &off) && off == 8, "a cut document fails at its end");
	ok(!json_parse("{\"a\": x}", 8, &off) && off < 8, "a wrong one fails before the end");
	ok(!json_parse("{} {}", 5, &off), "only one document");
	json *j = json_parse("{\"s\":\"x\",\"b\":true,\"n\":3,\"a\":[1,2],\"z\":null}", 43, &off);
	ok(j && json_is_object(j), "parses an object");
	ok(!strcmp(json_string(json_get(j, "s")), "x") && json_bool(json_get(j, "b")) &&
	   json_number(json_get(j, "n")) == 3 && json_size(json_get(j, "a")) == 2 &&
	   json_is_null(json_get(j, "z")), "members by type");
	ok(json_get(j, "S") == NULL, "member names are case-sensitive");
	ok(json_string(json_get(j, "n")) == NULL && !json_bool(json_get(j, "s")), "wrong types give nothing");
	ok(!strcmp(json_key(json_at(j, 2)), "n"), "members in order");
	json_free(j);

	json *o = json_new_object();
	json *a = json_new_array();
	json_append(a, json_new_string("v"));
	json_add(o, "list", a);
	json_add_bool(o, "t", true);
	json_add_number(o, "n", 1.5);
	char *text = json_print(o, false);
	ok(text && !strcmp(text, "{\"list\":[\"v\"],\"t\":true,\"n\":1.5}"), "builds and prints: %s", text);
	free(text);
	json *copy = json_dup(o);
	text = json_print(copy, false);
	ok(text && strstr(text, "\"list\""), "duplicates");
	free(text);
	json_free(copy);
	json_free(o);

	ok(json_utf8_valid("h\xc3\xa9llo", 6), "valid UTF-8");
	ok(!json_utf8_valid("\xc3", 1), "a cut sequence is not");
	ok(!json_utf8_valid("\xc0\xaf", 2), "an overlong form is not");
	ok(!json_utf8_valid("\xed\xa0\x80", 3), "a surrogate is not");
	ok(!json_utf8_valid("a\0b", 3), "NUL is not");
	ok(json_utf8_length("h\xc3\xa9\xf0\x9f\x98\x80") == 3, "length counts code points");
	return tap_done();
}
