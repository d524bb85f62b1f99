/* Fuzz harness for backend/validate.c.
 *
 * Runs every validator on the input (as a whole value and with VF_PARTIAL)
 * and parse_data_events_line, and aborts when a promise of validate.h is
 * broken:
 *   - a failure carries an AWS name and a message without control bytes;
 *   - a value accepted whole is accepted with VF_PARTIAL, and every start of
 *     a value accepted with VF_PARTIAL is accepted with VF_PARTIAL too;
 *   - CloudTrail's bucket rules are stricter than S3's;
 *   - what parse_data_events_line returns passes validate_data_resource and
 *     parses back to itself. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* Longest input whose every start is re-checked (the check is quadratic). */
#define PREFIX_CHECK_MAX 256

typedef int (*validator)(const char *s, unsigned flags, struct ct_err *err);

static void check_err(int r, const struct ct_err *e)
{
	if (r == 0)
		return;
	if (r != -EINVAL || e->name[0] == '\0' || e->message[0] == '\0')
		abort();
	for (const unsigned char *p = (const unsigned char *)e->message; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static int run(validator fn, const char *s, unsigned flags)
{
	struct ct_err e;
	ct_err_clear(&e);
	int r = fn(s, flags, &e);
	check_err(r, &e);
	/* err is optional and must not change the verdict. */
	if (fn(s, flags, NULL) != r)
		abort();
	return r;
}

static void check_validator(validator fn, const char *s)
{
	int full = run(fn, s, 0);
	int partial = run(fn, s, VF_PARTIAL);
	if (full == 0 && partial != 0)
		abort();
	size_t n = strlen(s);
	if (partial != 0 || n > PREFIX_CHECK_MAX)
		return;
	char *p = malloc(n + 1);
	if (!p)
		return;
	for (size_t k = 0; k < n; k++) {
		memcpy(p, s, k);
		p[k] = '\0';
		if (fn(p, VF_PARTIAL, NULL) != 0)
			abort();
	}
	free(p);
}

static const char *rw_word(enum rw_type rw)
{
	return rw == RW_READ ? "ReadOnly" : rw == RW_WRITE ? "WriteOnly" : "All";
}

static void check_data_events(const char *line)
{
	struct ct_err e;
	char *type, *value;
	enum rw_type rw;
	ct_err_clear(&e);
	int r = parse_data_events_line(line, &type, &value, &rw, &e);
	check_err(r, &e);
	if (r != 0) {
		if (type || value)
			abort();
		return;
	}
	if (validate_data_resource(type, value, NULL) != 0 || (rw != RW_READ && rw != RW_WRITE && rw != RW_ALL))
		abort();
	/* The normalised form is a line of its own that parses to itself. */
	size_t size = strlen(value) + 16;
	char *again = malloc(size);
	if (again) {
		char *t2, *v2;
		enum rw_type rw2;
		snprintf(again, size, "%s %s", value, rw_word(rw));
		if (parse_data_events_line(again, &t2, &v2, &rw2, NULL) != 0)
			abort();
		if (strcmp(t2, type) || strcmp(v2, value) || rw2 != rw)
			abort();
		free(t2);
		free(v2);
		free(again);
	}
	free(type);
	free(value);
}

static void check_tag(const char *key, const char *value)
{
	struct ct_err e;
	ct_err_clear(&e);
	check_err(validate_tag(key, value, &e), &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	static const validator flagged[] = {
		validate_trail_name, validate_bucket_name_s3, validate_bucket_name_cloudtrail,
		validate_s3_prefix, validate_kms_key_id, validate_sns_topic, validate_log_group_name,
	};
	for (size_t i = 0; i < sizeof flagged / sizeof *flagged; i++)
		check_validator(flagged[i], s);
	for (unsigned flags = 0; flags <= VF_PARTIAL; flags += VF_PARTIAL)
		if (validate_bucket_name_cloudtrail(s, flags, NULL) == 0 &&
		    validate_bucket_name_s3(s, flags, NULL) != 0)
			abort();

	struct ct_err e;
	char name[CT_LOG_GROUP_MAX + 1];
	ct_err_clear(&e);
	int r = validate_log_group_arn(s, name, &e);
	check_err(r, &e);
	if (r == 0 && validate_log_group_name(name, 0, NULL) != 0)
		abort();
	ct_err_clear(&e);
	check_err(validate_log_role_arn(s, &e), &e);

	static const char *const types[] = {
		"AWS::S3::Object", "AWS::Lambda::Function", "AWS::DynamoDB::Table",
	};
	for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
		ct_err_clear(&e);
		r = validate_data_resource(types[i], s, &e);
		check_err(r, &e);
		if (data_resource_is_all(s) && strncmp(s, "arn:aws:", 8) == 0 &&
		    !strcmp(s + 8, i == 0 ? "s3" : i == 1 ? "lambda" : "dynamodb") && r != 0)
			abort();
	}
	(void)region_name_valid(s);
	(void)account_id_valid(s);
	(void)looks_like_ipv4(s);

	check_tag(s, s);
	check_tag(s, NULL);
	check_data_events(s);

	/* Split once for the two-string entry points: "KEY=VALUE" for tags,
	 * "TYPE\nVALUE" for data resources. */
	char *eq = strchr(s, '=');
	if (eq) {
		*eq = '\0';
		check_tag(s, eq + 1);
		*eq = '=';
	}
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		ct_err_clear(&e);
		check_err(validate_data_resource(s, nl + 1, &e), &e);
		check_data_events(nl + 1);
	}
	free(s);
	return 0;
}
