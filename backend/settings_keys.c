/* The files of a key directory, keys/NAME/: their text forms over the key
 * ring's calls (ct_kms.h).  See settings.h. */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "ct_kms.h"
#include "json.h"
#include "kmspolicy.h"

static const char *const key_files[] = { "arn", "id", SETTINGS_KEY_POLICY, "state", NULL };

enum setting_access settings_key_file(const char *name)
{
	if (!strcmp(name, "arn") || !strcmp(name, "id"))
		return SETTING_RO;
	if (!strcmp(name, SETTINGS_KEY_POLICY) || !strcmp(name, "state"))
		return SETTING_RW;
	return SETTING_NONE;
}

const char *const *settings_key_files(void)
{
	return key_files;
}

int settings_key_read(struct ct *ct, const struct ct_caller *who, const char *key,
		      const char *file, struct buf *out, struct ct_err *err)
{
	if (!strcmp(file, SETTINGS_KEY_POLICY)) {
		int r = ct_kms_get_policy(ct, who, key, out, err);
		if (r == 0 && out->len && out->data[out->len - 1] != '\n')
			r = buf_putc(out, '\n');
		return r;
	}
	if (settings_key_file(file) == SETTING_NONE)
		return -ENOENT;
	struct keyring_key_info info;
	int r = ct_kms_describe(ct, who, key, &info, err);
	if (r < 0)
		return r;
	if (!strcmp(file, "id"))
		return buf_printf(out, "%s\n", info.key_id);
	if (!strcmp(file, "arn"))
		return buf_printf(out, "%s\n", info.arn);
	r = buf_printf(out, "%s\n", keyring_state_name(info.state));
	if (r == 0 && info.state == KEYRING_PENDING_DELETION) {
		char iso[32];
		clock_format_iso(info.deletion_date, iso, sizeof iso);
		r = buf_printf(out, "%s\n", iso);
	}
	return r;
}

/* The state file's value: Enabled (1) or Disabled (0), surrounding white
 * space ignored; with partial, a prefix of one will do (2). */
static int parse_state(const char *text, size_t len, bool partial, struct ct_err *err)
{
	while (len && strchr(" \t\r\n", text[len - 1]) && text[len - 1])
		len--;
	while (len && strchr(" \t\r\n", *text) && *text) {
		text++;
		len--;
	}
	static const char *const words[] = { "Disabled", "Enabled" };
	for (int i = 0; i < 2; i++) {
		size_t wl = strlen(words[i]);
		if (len == wl && !memcmp(text, words[i], len))
			return i;
		if (partial && len < wl && !memcmp(text, words[i], len))
			return 2;
	}
	char shown[40];
	snprintf(shown, sizeof shown, "%.*s", (int)(len > 32 ? 32 : len), text);
	for (char *p = shown; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return ct_fail(err, "ValidationException",
		       "state takes Enabled or Disabled (exactly so spelt), not \"%s%s\"; "
		       "rmdir schedules the key's deletion", shown, len > 32 ? "..." : "");
}

static bool all_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]) || !s[i])
			return false;
	return true;
}

static int key_write(struct ct *ct, const struct ct_caller *who, const char *key,
		     const char *file, const char *text, size_t len, bool check,
		     struct ct_err *err)
{
	enum setting_access a = settings_key_file(file);
	if (a == SETTING_NONE)
		return -ENOENT;
	if (a == SETTING_RO)
		return ct_fail(err, "OperationNotPermittedException", "%s is read-only", file);
	if (!strcmp(file, "state")) {
		bool complete = len && text[len - 1] == '\n';
		int w = parse_state(text, len, check && !complete, err);
		if (w < 0) {
			ct_err_call(err, "DisableKey", key);
			return w;
		}
		if (w == 2)
			return 0;
		return ct_kms_set_enabled(ct, who, key, w == 1, check ? CT_DRY_RUN : 0, err);
	}
	if (len > KMSPOLICY_MAX || all_space(text, len) || !check)
		goto whole;
	json *j = json_parse(text, len, NULL);
	json_free(j);
	if (j)
		goto whole;
	/* Not a document yet: it may still be growing, unless it cannot
	 * become one. */
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", text[i]) && text[i])
		i++;
	if (i < len && text[i] != '{')
		goto whole;
	return 0;
whole:
	if (all_space(text, len)) {
		int r = ct_fail(err, "MalformedPolicyDocumentException",
				"a key always has a policy: write a whole key policy document "
				"(an empty one cannot replace it)");
		ct_err_call(err, "PutKeyPolicy", key);
		return r;
	}
	return ct_kms_put_policy(ct, who, key, text, len, check ? CT_DRY_RUN : 0, err);
}

int settings_key_check(struct ct *ct, const struct ct_caller *who, const char *key,
		       const char *file, const char *text, size_t len, struct ct_err *err)
{
	return key_write(ct, who, key, file, text, len, true, err);
}

int settings_key_apply(struct ct *ct, const struct ct_caller *who, const char *key,
		       const char *file, const char *text, size_t len, struct ct_err *err)
{
	return key_write(ct, who, key, file, text, len, false, err);
}
