/* JSON documents: the one module that uses cJSON.
 *
 * A thin facade so the rest of trailfs depends on these few operations, not
 * on cJSON's types.  Values are trees owned by their root: free the root with
 * json_free; json_get/json_at/json_first return borrowed pointers into it. */
#ifndef TRAILFS_JSON_H
#define TRAILFS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef struct json json;

/* Parse len bytes (no NUL needed).  The whole input must be one value, with
 * only whitespace after it.  Returns NULL on a syntax error and, when err_off
 * is not NULL, stores the byte offset where parsing failed (an offset at or
 * past len means the input ended too early: more bytes could complete it). */
json *json_parse(const char *s, size_t len, size_t *err_off);
void json_free(json *j);
json *json_dup(const json *j);

bool json_is_object(const json *j);
bool json_is_array(const json *j);
bool json_is_string(const json *j);
bool json_is_bool(const json *j);
bool json_is_number(const json *j);
bool json_is_null(const json *j);

/* Scalar values; NULL / false / 0 when j is not of that type. */
const char *json_string(const json *j);
bool json_bool(const json *j);
double json_number(const json *j);
/* A number that a state file keeps as a count or a time: true, with *out,
 * when j is a number from 0 to 2^53 (the integers a double holds exactly;
 * a fraction is cut off). */
bool json_u64(const json *j, uint64_t *out);
/* IAM's "one or many": v is an item or an array of items.  Walk it with
 *   for (const json *e = json_each_first(v); e; e = json_each_next(v, e))
 * which visits v itself when it is not an array. */
const json *json_each_first(const json *v);
const json *json_each_next(const json *v, const json *cur);

/* Object member by exact (case-sensitive) name, or NULL. */
json *json_get(const json *obj, const char *key);
/* Number of array elements or object members. */
size_t json_size(const json *j);
/* Element i of an array or member i of an object, or NULL. */
json *json_at(const json *j, size_t i);
/* Iteration over array elements or object members. */
json *json_first(const json *j);
json *json_next(const json *j);
/* Member name of an object member, else NULL. */
const char *json_key(const json *member);

/* Builders.  Each returns NULL on allocation failure. */
json *json_new_object(void);
json *json_new_array(void);
json *json_new_string(const char *s);
json *json_new_bool(bool v);
json *json_new_number(double v);
json *json_new_null(void);
/* Add to an object (item ownership passes to obj, even on failure). 0 or -ENOMEM. */
int json_add(json *obj, const char *key, json *item);
int json_add_string(json *obj, const char *key, const char *s);
int json_add_bool(json *obj, const char *key, bool v);
int json_add_number(json *obj, const char *key, double v);
/* Append to an array (item ownership passes to arr). 0 or -ENOMEM. */
int json_append(json *arr, json *item);

/* Serialize; the caller frees the result.  pretty: indented, for people to
 * edit; otherwise compact.  NULL on allocation failure. */
char *json_print(const json *j, bool pretty);

/* Is s[0..len) one JSON document, the beginning of one, or neither?  A
 * streaming syntax check that accepts what cJSON accepts (any byte up to
 * 0x20 is white space, numbers are what strtod takes) but not its lax
 * readings ("\\uZZZZ"), nor \\u0000 in a string (cJSON would cut the
 * string there).  json_parse refuses what this refuses. */
enum json_scan_end {
	JSON_COMPLETE,      /* one whole value, only white space after it */
	JSON_INCOMPLETE,    /* a proper prefix of some JSON text */
	JSON_BROKEN,        /* no continuation can make it JSON */
};

struct json_scan {
	enum json_scan_end end;
	size_t err_off;     /* JSON_BROKEN: offset of the offending byte */
	const char *why;    /* JSON_BROKEN: a reason beyond "syntax error", or NULL */
	bool in_string;     /* JSON_INCOMPLETE: it ends inside a string */
	size_t depth;       /* JSON_INCOMPLETE: unclosed objects and arrays */
};

struct json_scan json_scan(const char *s, size_t len);
/* Line and column (1-based, columns in characters) of byte off, for
 * messages that point into a document. */
void json_locate(const char *s, size_t len, size_t off, size_t *line, size_t *col);

/* json_scan(s, len).end != JSON_BROKEN */
bool json_prefix_ok(const char *s, size_t len);

/* Check that s holds valid UTF-8 without NUL bytes. */
bool json_utf8_valid(const char *s, size_t len);
/* Number of UTF-8 code points in a valid UTF-8 string. */
size_t json_utf8_length(const char *s);

#endif
