/* Unit tests for backend/ct_kms.c: the key ring in the facade, with a test
 * clock: key calls and their refusals, the pending window's end, a trail's
 * kms_key in every form, and a delivered log file sealed and opened through
 * the views for allowed and refused callers, tampered and destroyed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ct.h"
#include "ct_kms.h"
#include "envelope.h"
#include "fileio.h"
#include "settings.h"
#include "store.h"
#include "tap.h"
#include "testdir.h"

#define T0 1767225600L   /* 2026-01-01T00:00:00Z */

static char root[64];
static char state[128];
static char clockfile[128];

static void set_clock(long t)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", t);
	write_file_durable(clockfile, text, (size_t)n, 0600);
}

static struct ct *open_ct(unsigned days, struct ct_err *err)
{
	struct ct_options o = { .state_dir = state, .test_clock = clockfile,
				.key_deletion_days = days };
	return ct_open(&o, err);
}

static const struct ct_caller owner = { .uid = 0, .user = "root", .program = "test" };
/* A local user who exists on every system, for the principal checks. */
static const struct ct_caller other = { .uid = 1, .user = "daemon", .program = "test" };

static void test_options(void)
{
	struct ct_err err;
	struct ct *ct = open_ct(6, &err);
	ok(!ct && strstr(err.message, "key_deletion_days=6"), "a window of 6 days is refused: %s",
	   err.message);
	ct = open_ct(31, &err);
	ok(!ct, "a window of 31 days is refused");
}

static void test_keys(struct ct *ct)
{
	struct ct_err err;
	ok(ct_kms_create(ct, NULL, "app", &err) == 0, "CreateKey + CreateAlias alias/app");
	ok(ct_kms_create(ct, NULL, "app", &err) == -EEXIST &&
	   !strcmp(err.name, "AlreadyExistsException"), "a second alias/app: AlreadyExists");
	ok(ct_kms_create(ct, NULL, "a/b", &err) == -EINVAL &&
	   !strcmp(err.name, "InvalidAliasNameException"), "a NAME with '/': InvalidAliasName");
	ok(ct_kms_create(ct, NULL, "bad name", &err) == -EINVAL, "a NAME with a space is refused");
	ok(ct_kms_exists(ct, "app") && !ct_kms_exists(ct, "nope"), "exists");
	char **names;
	size_t n;
	ok(ct_kms_list(ct, NULL, &names, &n) == 0 && n == 1 && !strcmp(names[0], "app"),
	   "ListAliases: app");
	store_names_free(names, n);

	struct keyring_key_info info;
	ok(ct_kms_describe(ct, NULL, "app", &info, &err) == 0 && info.state == KEYRING_ENABLED,
	   "a new key is Enabled");
	ok(ct_kms_set_enabled(ct, NULL, "app", false, CT_DRY_RUN, &err) == 0 &&
	   ct_kms_describe(ct, NULL, "app", &info, &err) == 0 && info.state == KEYRING_ENABLED,
	   "a dry-run DisableKey changes nothing");
	ok(ct_kms_set_enabled(ct, NULL, "app", false, 0, &err) == 0 &&
	   ct_kms_describe(ct, NULL, "app", &info, &err) == 0 && info.state == KEYRING_DISABLED,
	   "DisableKey");
	ok(ct_kms_set_enabled(ct, NULL, "app", true, 0, &err) == 0, "EnableKey");

	struct buf text;
	buf_init(&text, 1 << 20);
	ok(settings_key_read(ct, NULL, "app", "state", &text, &err) == 0 &&
	   !strcmp(buf_str(&text), "Enabled\n"), "state reads Enabled");
	buf_reset(&text);
	ok(settings_key_check(ct, NULL, "app", "state", "Dis", 3, &err) == 0,
	   "a state still arriving passes");
	ok(settings_key_check(ct, NULL, "app", "state", "Dis\n", 4, &err) == -EINVAL &&
	   !strcmp(err.name, "ValidationException"), "a finished bad state fails");
	ok(settings_key_apply(ct, NULL, "app", "id", "x", 1, &err) == -EPERM, "id is read-only");

	/* Policies */
	const char *locked = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
			     "\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},"
			     "\"Action\":\"kms:GenerateDataKey*\",\"Resource\":\"*\"}]}";
	ok(ct_kms_put_policy(ct, &owner, "app", locked, strlen(locked), CT_DRY_RUN, &err) ==
		   -EINVAL && strstr(err.message, "will not allow you"),
	   "the lockout check in a dry run: %s", err.message);
	ok(settings_key_check(ct, NULL, "app", SETTINGS_KEY_POLICY, "{\"Version\":", 11, &err) == 0,
	   "a policy still arriving passes the write-time check");
	ok(settings_key_check(ct, NULL, "app", SETTINGS_KEY_POLICY, "nope", 4, &err) == -EINVAL,
	   "text that cannot become JSON fails at once");
	ok(settings_key_apply(ct, NULL, "app", SETTINGS_KEY_POLICY, "\n", 1, &err) == -EINVAL,
	   "an empty policy is refused");
	ok(ct_kms_get_policy(ct, NULL, "app", &text, &err) == 0 && strstr(buf_str(&text), "key-default-1"),
	   "the default policy stands");
	buf_release(&text);

	/* The pending window, on the test clock. */
	ok(ct_kms_create(ct, NULL, "doomed", &err) == 0, "alias/doomed");
	ok(ct_kms_schedule_deletion(ct, NULL, "doomed", &err) == 0 &&
	   ct_kms_describe(ct, NULL, "doomed", &info, &err) == 0 &&
	   info.state == KEYRING_PENDING_DELETION && info.deletion_date == T0 + 7 * 86400,
	   "ScheduleKeyDeletion: pending for the mount's 7 days");
	ok(ct_kms_schedule_deletion(ct, NULL, "doomed", &err) == -EINVAL &&
	   !strcmp(err.name, "KMSInvalidStateException"), "a second schedule: KMSInvalidState");
	ok(ct_kms_set_enabled(ct, NULL, "doomed", true, 0, &err) == -EINVAL,
	   "EnableKey while pending is refused");
	ok(ct_kms_set_enabled(ct, NULL, "doomed", false, 0, &err) == 0 &&
	   ct_kms_describe(ct, NULL, "doomed", &info, &err) == 0 && info.state == KEYRING_DISABLED,
	   "Disabled while pending is CancelKeyDeletion, leaving it Disabled");
	ok(ct_kms_schedule_deletion(ct, NULL, "doomed", &err) == 0, "scheduled again");
	set_clock(T0 + 7 * 86400 - 1);
	ct_kms_tick(ct);
	ok(ct_kms_exists(ct, "doomed"), "a second before the end: still there");
	set_clock(T0 + 7 * 86400);
	ct_kms_tick(ct);
	ok(!ct_kms_exists(ct, "doomed"), "at the end of the window: gone");
	set_clock(T0);
}

static void test_trail_key(struct ct *ct)
{
	struct ct_err err;
	ok(ct_create_trail(ct, NULL, "enc", &err) == 0, "trail enc");
	struct ct_update u = CT_UPDATE_INIT;
	u.kms_key = "alias/app";
	ok(ct_update_trail(ct, NULL, "enc", &u, 0, &err) == -EACCES &&
	   !strcmp(err.name, "InsufficientEncryptionPolicyException"),
	   "a key whose policy does not let CloudTrail encrypt: %s", err.name);
	u.kms_key = "alias/fresh";
	ok(ct_update_trail(ct, NULL, "enc", &u, CT_DRY_RUN, &err) == 0 && !ct_kms_exists(ct, "fresh"),
	   "a dry run with a new alias makes no key");
	ok(ct_update_trail(ct, &owner, "enc", &u, 0, &err) == 0 && ct_kms_exists(ct, "fresh"),
	   "a new alias makes a key");
	struct keyring_key_info info;
	ct_kms_describe(ct, NULL, "fresh", &info, &err);
	struct trail t;
	trail_init(&t);
	ok(ct_get_trail(ct, NULL, "enc", &t, &err) == 0 && !strcmp(t.kms_key_arn, info.arn),
	   "the trail keeps the key ARN");
	trail_release(&t);
	const char *forms[] = { info.key_id, info.arn, NULL };
	char alias_arn[256];
	snprintf(alias_arn, sizeof alias_arn, "arn:aws:kms:us-east-1:%s:alias/fresh", ct_account(ct));
	forms[2] = alias_arn;
	for (int i = 0; i < 3; i++) {
		struct ct_update clear = CT_UPDATE_INIT;
		clear.kms_key = "";
		ct_update_trail(ct, NULL, "enc", &clear, 0, &err);
		u.kms_key = forms[i];
		trail_init(&t);
		ok(ct_update_trail(ct, NULL, "enc", &u, 0, &err) == 0 &&
		   ct_get_trail(ct, NULL, "enc", &t, &err) == 0 && !strcmp(t.kms_key_arn, info.arn),
		   "kms_key by %s", i == 0 ? "key id" : i == 1 ? "key ARN" : "alias ARN");
		trail_release(&t);
	}
	u.kms_key = "11111111-2222-3333-4444-555555555555";
	ok(ct_update_trail(ct, NULL, "enc", &u, 0, &err) == -ENOENT &&
	   !strcmp(err.name, "KmsKeyNotFoundException"), "an unknown key id: KmsKeyNotFound");
	ct_kms_set_enabled(ct, NULL, "fresh", false, 0, &err);
	struct ct_update clear = CT_UPDATE_INIT;
	clear.kms_key = "";
	ct_update_trail(ct, NULL, "enc", &clear, 0, &err);
	u.kms_key = "alias/fresh";
	ok(ct_update_trail(ct, NULL, "enc", &u, 0, &err) == -EINVAL &&
	   !strcmp(err.name, "KmsException"), "a disabled key: KmsException");
	ct_kms_set_enabled(ct, NULL, "fresh", true, 0, &err);
	ok(ct_update_trail(ct, NULL, "enc", &u, 0, &err) == 0, "enabled again, accepted");
}

/* The one delivered log file of trail enc in logs/ (sub into out). */
static int first_file(struct ct *ct, char *out, size_t size)
{
	char path[1024] = "";
	for (int depth = 0; depth < 5; depth++) {
		struct ct_view_entry *v;
		size_t n;
		if (ct_view_list(ct, "enc", CT_VIEW_LOGS, path, &v, &n) < 0 || n == 0)
			return -1;
		size_t len = strlen(path);
		snprintf(path + len, sizeof path - len, "%s%s", len ? "/" : "", v[0].name);
		ct_view_entries_free(v, n);
	}
	snprintf(out, size, "%s", path);
	return 0;
}

static void test_seal_open(struct ct *ct)
{
	struct ct_err err;
	const char *rec = "{\"eventTime\":\"2026-01-01T00:00:00Z\",\"eventSource\":\"ec2.amazonaws.com\","
			  "\"eventName\":\"RunInstances\",\"awsRegion\":\"us-east-1\","
			  "\"requestParameters\":{\"marker\":\"UNIT-MARKER-77\"}}";
	struct event_stream s;
	event_stream_init(&s);
	struct event_ctx ctx;
	struct ingest_who iw = { .uid = 0 };
	snprintf(iw.user, sizeof iw.user, "root");
	ct_event_ctx(ct, &iw, &ctx);
	struct event *ev = NULL;
	size_t n = 0;
	char line[1024];
	snprintf(line, sizeof line, "%s\n", rec);
	int r = event_stream_feed(&s, line, strlen(line), &ctx, &ev, &n, &err);
	ok(r == 0 && n == 1 && ct_ingest(ct, ev, n, &err) == 0, "a record ingested");
	events_free(ev, n);
	event_stream_release(&s);
	ok(ct_deliver_now(ct, "enc") == 0, "delivered");
	char sub[1024];
	ok(first_file(ct, sub, sizeof sub) == 0, "a delivered file: %s", sub);

	struct buf out;
	buf_init(&out, 1 << 26);
	ok(ct_view_read(ct, &owner, "enc", CT_VIEW_LOGS, sub, &out, &err) == 0 &&
	   strstr(buf_str(&out), "UNIT-MARKER-77"), "the root reads the plaintext");
	bool dir;
	uint64_t size;
	int64_t mtime;
	ok(ct_view_stat(ct, "enc", CT_VIEW_LOGS, sub, &dir, &size, &mtime) == 0 && size == out.len,
	   "logs/ stat size is the text's (%llu)", (unsigned long long)size);
	buf_reset(&out);
	char raw[1100];
	snprintf(raw, sizeof raw, "%s.gz", sub);
	ok(ct_view_read(ct, &owner, "enc", CT_VIEW_RAW, raw, &out, &err) == 0 &&
	   out.len > 2 && (unsigned char)out.data[0] == 0x1f && (unsigned char)out.data[1] == 0x8b,
	   "raw/ is the gzip bytes, decrypted");
	ok(ct_view_stat(ct, "enc", CT_VIEW_RAW, raw, &dir, &size, &mtime) == 0 && size == out.len,
	   "raw/ stat size is the plaintext's");
	buf_reset(&out);
	ok(ct_view_read(ct, &other, "enc", CT_VIEW_LOGS, sub, &out, &err) == -EACCES &&
	   !strcmp(err.name, "AccessDeniedException") && out.len == 0,
	   "another user is refused: %s", err.name);

	/* The stored object: ciphertext with the V2 envelope. */
	char bucket[CT_BUCKET_NAME_MAX + 1];
	struct buf key, obj;
	buf_init(&key, 4096);
	buf_init(&obj, 1 << 26);
	ct_log_location(ct, "enc", bucket, &key, &err);
	buf_puts(&key, raw);
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	ok(ct_get_object(ct, bucket, key.data, &obj, &info) == 0 &&
	   !memmem(obj.data, obj.len, "UNIT-MARKER", 11) &&
	   store_meta_get(&info, ENVELOPE_KEY_V2) &&
	   !strcmp(store_meta_get(&info, ENVELOPE_WRAP_ALG), "kms+context"),
	   "the store holds ciphertext with the envelope");
	store_object_info_release(&info);
	buf_release(&obj);
	buf_release(&key);

	/* Disabled: refused for now; destroyed: EIO. */
	ct_kms_set_enabled(ct, NULL, "fresh", false, 0, &err);
	ok(ct_view_read(ct, &owner, "enc", CT_VIEW_LOGS, sub, &out, &err) == -EACCES &&
	   !strcmp(err.name, "DisabledException"), "a disabled key: EACCES (%s)", err.name);
	ct_kms_set_enabled(ct, NULL, "fresh", true, 0, &err);
	ct_kms_schedule_deletion(ct, NULL, "fresh", &err);
	set_clock(T0 + 8 * 86400);
	ct_kms_tick(ct);
	ok(ct_view_read(ct, &owner, "enc", CT_VIEW_LOGS, sub, &out, &err) == -EIO &&
	   out.len == 0, "a destroyed key: EIO (%s)", err.name);
	buf_release(&out);
	set_clock(T0);
}

int main(void)
{
	testdir_make(root, sizeof root);
	snprintf(state, sizeof state, "%s/state", root);
	snprintf(clockfile, sizeof clockfile, "%s/clock", root);
	set_clock(T0);
	test_options();
	struct ct_err err;
	struct ct *ct = open_ct(7, &err);
	if (!ct) {
		ok(0, "open: %s", err.message);
		return tap_done();
	}
	test_keys(ct);
	test_trail_key(ct);
	test_seal_open(ct);
	ct_close(ct);
	testdir_remove(root);
	return tap_done();
}
