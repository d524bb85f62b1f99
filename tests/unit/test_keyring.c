/* Unit tests for backend/keyring.c: keys, aliases and their names, every
 * key state and transition (Enabled, Disabled, PendingDeletion, destroyed
 * at the end of the window, with fake times), GenerateDataKey and Decrypt
 * in each state and with tampered blobs and wrong contexts, key policies,
 * authorization, persistence over a reopen, file modes, leftovers swept,
 * damaged state reported with its path, and concurrent use. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "keyring.h"
#include "tap.h"

#define A "123456789012"
#define R "us-east-1"
#define T0 1780000000LL
#define DAY 86400LL
#define TRAIL "arn:aws:cloudtrail:us-east-1:" A ":trail/audit"

static char dir[256];

static struct keyring *open_ring(struct ct_err *err)
{
	return keyring_open(dir, A, R, err);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (st.st_mode & 0777) : (mode_t)-1;
}

static const char *path_of(const char *id, const char *ext)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s%s", dir, id, ext);
	return p;
}

static bool is(int r, int want_r, const struct ct_err *err, const char *name)
{
	return r == want_r && (!name || !strcmp(err->name, name));
}

static struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", TRAIL},
					   {"aws:x-amz-cek-alg", "AES/GCM/NoPadding"}};

static void test_names(void)
{
	static const struct { const char *name; bool good; } names[] = {
		{"alias/audit", true}, {"alias/a", true}, {"alias/My_Key-2/sub", true},
		{"alias/awsome", true}, {"audit", false}, {"alias/", false}, {"alias/a b", false},
		{"alias/a:b", false}, {"alias/é", false}, {"alias/aws/x", false}, {"Alias/x", false},
		{"", false},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct ct_err err;
		int r = keyring_alias_name_check(names[i].name, &err);
		ok(names[i].good ? r == 0 : is(r, -EINVAL, &err, "InvalidAliasNameException"),
		   "alias name \"%s\": %s", names[i].name, names[i].good ? "valid" : "invalid");
	}
	char longest[KEYRING_ALIAS_MAX + 2];
	memset(longest, 'a', sizeof longest);
	memcpy(longest, "alias/", 6);
	longest[KEYRING_ALIAS_MAX] = '\0';
	struct ct_err err;
	ok(keyring_alias_name_check(longest, &err) == 0, "a %d-byte alias name is valid", KEYRING_ALIAS_MAX);
	longest[KEYRING_ALIAS_MAX] = 'a';
	longest[KEYRING_ALIAS_MAX + 1] = '\0';
	ok(is(keyring_alias_name_check(longest, &err), -EINVAL, &err, "InvalidAliasNameException"),
	   "a %d-byte alias name is not", KEYRING_ALIAS_MAX + 1);
	ok(strstr(err.message, "alias/aws/") == NULL, "the length message does not mention the prefix");
	keyring_alias_name_check("alias/aws/x", &err);
	ok(strstr(err.message, "reserved") != NULL, "alias/aws/ is reserved: %s", err.message);
}

static char key1[37], key2[37];

static bool all_wiped(const uint8_t *p)
{
	for (int i = 0; i < 32; i++)
		if (p[i])
			return false;
	return true;
}


static void test_create_and_lookup(void)
{
	struct ct_err err;
	struct keyring *kr = open_ring(&err);
	ok(kr != NULL, "open a new ring (%s)", kr ? "" : err.message);
	ok(mode_of(dir) == 0700, "the ring's directory is 0700");
	struct keyring_key_info info;
	ok(keyring_create_key(kr, NULL, 0, T0, &info, &err) == 0, "CreateKey with the default policy");
	snprintf(key1, sizeof key1, "%s", info.key_id);
	char want_arn[200];
	snprintf(want_arn, sizeof want_arn, "arn:aws:kms:" R ":" A ":key/%s", key1);
	ok(crypto_uuid_ok(key1) && !strcmp(info.arn, want_arn) && info.state == KEYRING_ENABLED &&
	   info.creation_date == T0 && info.deletion_date == 0, "key id, ARN, state, dates");
	ok(mode_of(path_of(key1, ".key")) == 0600 && mode_of(path_of(key1, ".policy.json")) == 0600,
	   "material and policy files are 0600");
	char idx[512];
	snprintf(idx, sizeof idx, "%s/keyring.json", dir);
	ok(mode_of(idx) == 0600, "the index is 0600");
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(read_file(path_of(key1, ".key"), &b) == 0 && b.len == 32, "material is 32 bytes");
	buf_reset(&b);
	ok(keyring_get_policy(kr, key1, &b, &err) == 0 && strstr(b.data, "key-default-1") &&
	   strstr(b.data, "arn:aws:iam::" A ":root") && kmspolicy_validate(b.data, b.len, &err) == 0,
	   "the default policy: the account root, kms:*");
	buf_release(&b);

	ok(keyring_create_alias(kr, "alias/audit", key1, &err) == 0, "CreateAlias alias/audit");
	ok(is(keyring_create_alias(kr, "alias/audit", key1, &err), -EEXIST, &err, "AlreadyExistsException"),
	   "CreateAlias again: AlreadyExistsException");
	ok(is(keyring_create_alias(kr, "alias/x", "alias/audit", &err), -ENOENT, &err, "NotFoundException"),
	   "CreateAlias targeting an alias: NotFoundException");
	ok(is(keyring_create_alias(kr, "alias/x", "00000000-0000-4000-8000-000000000000", &err), -ENOENT, &err,
	      "NotFoundException"), "CreateAlias for an unknown key: NotFoundException");
	ok(is(keyring_create_alias(kr, "alias/aws/x", key1, &err), -EINVAL, &err, "InvalidAliasNameException"),
	   "CreateAlias alias/aws/x: InvalidAliasNameException");
	ok(keyring_create_key(kr, NULL, 0, T0 + 1, &info, &err) == 0, "a second key");
	snprintf(key2, sizeof key2, "%s", info.key_id);
	ok(keyring_create_alias(kr, "alias/second", want_arn, &err) == 0, "CreateAlias by key ARN");

	char alias_arn[] = "arn:aws:kms:" R ":" A ":alias/audit";
	const char *good[] = {key1, want_arn, "alias/audit", alias_arn};
	for (size_t i = 0; i < 4; i++) {
		ok(keyring_describe(kr, good[i], &info, &err) == 0 && !strcmp(info.key_id, key1),
		   "lookup by %s", good[i]);
	}
	static const struct { const char *spec, *msg; } bad[] = {
		{"alias/nope", "Alias arn:aws:kms:us-east-1:" A ":alias/nope is not found."},
		{"arn:aws:kms:eu-west-1:" A ":alias/audit", "Invalid arn"},
		{"arn:aws:kms:" R ":210987654321:alias/audit", "Invalid arn"},
		{"arn:aws:kms:" R ":" A ":thing/x", "Invalid arn"},
		{"00000000-0000-4000-8000-000000000000", "does not exist"},
		{"not-a-key", "Invalid keyId"},
		{"", "Invalid keyId"},
		{"../../etc/passwd", "Invalid keyId"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(is(keyring_describe(kr, bad[i].spec, &info, &err), -ENOENT, &err, "NotFoundException") &&
		   strstr(err.message, bad[i].msg), "lookup of \"%s\": NotFoundException (%s)", bad[i].spec,
		   err.message);
	struct keyring_key_info *keys;
	struct keyring_alias *aliases;
	size_t nk, na;
	ok(keyring_list(kr, &keys, &nk, &aliases, &na) == 0 && nk == 2 && na == 2 &&
	   !strcmp(keys[0].key_id, key1) && !strcmp(aliases[0].name, "alias/audit") &&
	   !strcmp(aliases[1].name, "alias/second") && !strcmp(aliases[1].target, key1),
	   "list: keys in creation order, aliases sorted");
	free(keys);
	free(aliases);
	ok(keyring_delete_alias(kr, "alias/second", &err) == 0, "DeleteAlias");
	ok(is(keyring_delete_alias(kr, "alias/second", &err), -ENOENT, &err, "NotFoundException"),
	   "DeleteAlias again: NotFoundException");
	ok(is(keyring_create_key(kr, "{\"Statement\":[]}", 16, T0, NULL, &err), -EINVAL, &err,
	      "MalformedPolicyDocumentException"), "CreateKey with a bad policy: MalformedPolicyDocumentException");
	keyring_close(kr);
}

static void test_data_keys(void)
{
	struct ct_err err;
	struct keyring *kr = open_ring(&err);
	ok(kr != NULL, "reopen (%s)", kr ? "" : err.message);
	uint8_t dk[32], back[32], blob[CRYPTO_WRAPPED_LEN];
	char arn[KEYRING_ARN_MAX];
	ok(keyring_generate_data_key(kr, "alias/audit", ctx, 2, dk, blob, arn, &err) == 0 &&
	   strstr(arn, key1), "GenerateDataKey through the alias");
	ok(keyring_decrypt(kr, blob, sizeof blob, ctx, 2, back, arn, &err) == 0 && !memcmp(dk, back, 32) &&
	   strstr(arn, key1), "Decrypt gives the same key and names it");
	struct crypto_context_pair other[] = {{"aws:cloudtrail:arn", "arn:aws:cloudtrail:us-east-1:" A ":trail/x"},
					      ctx[1]};
	ok(is(keyring_decrypt(kr, blob, sizeof blob, other, 2, back, arn, &err), -EINVAL, &err,
	      "InvalidCiphertextException"), "Decrypt with another context: InvalidCiphertextException");
	ok(is(keyring_decrypt(kr, blob, sizeof blob, ctx, 1, back, arn, &err), -EINVAL, &err,
	      "InvalidCiphertextException"), "Decrypt with a pair missing: InvalidCiphertextException");
	for (size_t at = 0; at < sizeof blob; at += 8) {
		uint8_t t[CRYPTO_WRAPPED_LEN];
		memcpy(t, blob, sizeof t);
		t[at] ^= 1;
		int r = keyring_decrypt(kr, t, sizeof t, ctx, 2, back, arn, &err);
		/* A flipped id byte may name no key (NotFound) or be no UUID. */
		ok(r < 0 && (!strcmp(err.name, "InvalidCiphertextException") ||
			     (at >= 1 && at <= 36 && !strcmp(err.name, "NotFoundException"))),
		   "tampered blob byte %zu: %s", at, err.name);
	}
	ok(is(keyring_decrypt(kr, blob, 10, ctx, 2, back, arn, &err), -EINVAL, &err,
	      "InvalidCiphertextException"), "a short blob: InvalidCiphertextException");
	/* A blob of key 2 decrypts with key 2 only. */
	uint8_t blob2[CRYPTO_WRAPPED_LEN];
	ok(keyring_generate_data_key(kr, key2, ctx, 2, dk, blob2, NULL, &err) == 0, "GenerateDataKey on key 2");
	memcpy(blob2 + 1, key1, 36);
	ok(is(keyring_decrypt(kr, blob2, sizeof blob2, ctx, 2, back, NULL, &err), -EINVAL, &err,
	      "InvalidCiphertextException"), "key 2's blob relabelled as key 1's: InvalidCiphertextException");
	struct crypto_context_pair dup[] = {ctx[0], ctx[0]};
	ok(is(keyring_generate_data_key(kr, key1, dup, 2, dk, blob, NULL, &err), -EINVAL, &err,
	      "ValidationException"), "GenerateDataKey with a repeated context key: ValidationException");

	/* Disabled. */
	uint8_t good_blob[CRYPTO_WRAPPED_LEN], good_dk[32];
	keyring_generate_data_key(kr, key1, ctx, 2, good_dk, good_blob, NULL, &err);
	ok(keyring_set_enabled(kr, key1, false, &err) == 0, "DisableKey");
	struct keyring_key_info info;
	keyring_describe(kr, key1, &info, &err);
	ok(info.state == KEYRING_DISABLED, "state Disabled");
	ok(keyring_set_enabled(kr, key1, false, &err) == 0, "DisableKey twice is fine");
	ok(is(keyring_generate_data_key(kr, key1, ctx, 2, dk, blob, NULL, &err), -EINVAL, &err,
	      "DisabledException") && strstr(err.message, "is disabled."), "GenerateDataKey on a disabled key: DisabledException");
	ok(is(keyring_decrypt(kr, good_blob, sizeof good_blob, ctx, 2, back, NULL, &err), -EINVAL, &err,
	      "DisabledException") && all_wiped(back), "Decrypt on a disabled key: DisabledException, nothing out");
	ok(keyring_set_enabled(kr, key1, true, &err) == 0, "EnableKey");
	ok(keyring_decrypt(kr, good_blob, sizeof good_blob, ctx, 2, back, NULL, &err) == 0 &&
	   !memcmp(back, good_dk, 32), "Decrypt again once enabled");
	keyring_close(kr);
}

static void test_deletion(void)
{
	struct ct_err err;
	struct keyring *kr = open_ring(&err);
	uint8_t dk[32], back[32], blob[CRYPTO_WRAPPED_LEN];
	ok(keyring_generate_data_key(kr, key1, ctx, 2, dk, blob, NULL, &err) == 0, "a data key before deletion");
	int64_t when = 0;
	static const int bad_days[] = {-1, 0, 6, 31, 365};
	for (size_t i = 0; i < sizeof bad_days / sizeof bad_days[0]; i++)
		ok(is(keyring_schedule_deletion(kr, key1, bad_days[i], T0, &when, &err), -EINVAL, &err,
		      "ValidationException") && strstr(err.message, "between 7 and 30"),
		   "ScheduleKeyDeletion %d days: ValidationException", bad_days[i]);
	ok(is(keyring_cancel_deletion(kr, key1, &err), -EINVAL, &err, "KMSInvalidStateException"),
	   "CancelKeyDeletion of an enabled key: KMSInvalidStateException");
	ok(keyring_schedule_deletion(kr, key1, 7, T0, &when, &err) == 0 && when == T0 + 7 * DAY,
	   "ScheduleKeyDeletion 7 days");
	struct keyring_key_info info;
	keyring_describe(kr, "alias/audit", &info, &err);
	ok(info.state == KEYRING_PENDING_DELETION && info.deletion_date == T0 + 7 * DAY,
	   "PendingDeletion, listed, with its date");
	ok(is(keyring_schedule_deletion(kr, key1, 30, T0, &when, &err), -EINVAL, &err, "KMSInvalidStateException"),
	   "ScheduleKeyDeletion again: KMSInvalidStateException");
	ok(is(keyring_generate_data_key(kr, key1, ctx, 2, dk, blob, NULL, &err), -EINVAL, &err,
	      "KMSInvalidStateException") && strstr(err.message, "pending deletion"),
	   "GenerateDataKey while pending: KMSInvalidStateException");
	uint8_t blob_keep[CRYPTO_WRAPPED_LEN];
	memcpy(blob_keep, blob, sizeof blob);
	ok(keyring_generate_data_key(kr, key2, ctx, 2, dk, blob_keep, NULL, &err) == 0, "key 2 still works");
	ok(is(keyring_decrypt(kr, blob, sizeof blob, ctx, 2, back, NULL, &err), -EINVAL, &err,
	      "KMSInvalidStateException"), "Decrypt while pending: KMSInvalidStateException");
	ok(is(keyring_set_enabled(kr, key1, true, &err), -EINVAL, &err, "KMSInvalidStateException"),
	   "EnableKey while pending: KMSInvalidStateException");
	static const char open_policy[] = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\","
		"\"Action\":\"kms:*\",\"Resource\":\"*\"}}";
	ok(is(keyring_put_policy(kr, key1, open_policy, strlen(open_policy), NULL, &err),
	      -EINVAL, &err, "KMSInvalidStateException"), "PutKeyPolicy while pending: KMSInvalidStateException");
	ok(is(keyring_create_alias(kr, "alias/late", key1, &err), -EINVAL, &err, "KMSInvalidStateException"),
	   "CreateAlias for a pending key: KMSInvalidStateException");
	ok(keyring_cancel_deletion(kr, key1, &err) == 0, "CancelKeyDeletion");
	keyring_describe(kr, key1, &info, &err);
	ok(info.state == KEYRING_DISABLED && info.deletion_date == 0, "cancelled: Disabled, as AWS");
	ok(keyring_set_enabled(kr, key1, true, &err) == 0, "EnableKey after cancelling");

	/* Destroy at the end of the window, with fake times. */
	uint8_t old_blob[CRYPTO_WRAPPED_LEN];
	ok(keyring_generate_data_key(kr, key1, ctx, 2, dk, old_blob, NULL, &err) == 0, "a data key to lose");
	ok(keyring_schedule_deletion(kr, "alias/audit", 10, T0, &when, &err) == 0, "schedule 10 days");
	size_t destroyed = 9;
	int64_t next = 0;
	ok(keyring_expire(kr, T0 + 10 * DAY - 1, &destroyed, &next, &err) == 0 && destroyed == 0 &&
	   next == T0 + 10 * DAY, "one second early: nothing destroyed, next is the deletion date");
	ok(access(path_of(key1, ".key"), F_OK) == 0, "material still there");
	keyring_close(kr);
	kr = open_ring(&err);
	keyring_describe(kr, key1, &info, &err);
	ok(info.state == KEYRING_PENDING_DELETION, "pending survives a reopen");
	ok(keyring_expire(kr, T0 + 10 * DAY, &destroyed, &next, &err) == 0 && destroyed == 1 && next == 0,
	   "at the deletion date: destroyed");
	ok(access(path_of(key1, ".key"), F_OK) < 0 && access(path_of(key1, ".policy.json"), F_OK) < 0,
	   "material and policy files gone");
	ok(is(keyring_describe(kr, key1, &info, &err), -ENOENT, &err, "NotFoundException"),
	   "DescribeKey: NotFoundException");
	ok(is(keyring_describe(kr, "alias/audit", &info, &err), -ENOENT, &err, "NotFoundException"),
	   "its alias went with it");
	ok(is(keyring_decrypt(kr, old_blob, sizeof old_blob, ctx, 2, back, NULL, &err), -ENOENT, &err,
	      "NotFoundException") && all_wiped(back), "Decrypt of what it wrapped: NotFoundException for good");
	keyring_close(kr);
	kr = open_ring(&err);
	ok(kr && is(keyring_decrypt(kr, old_blob, sizeof old_blob, ctx, 2, back, NULL, &err), -ENOENT, &err,
		    "NotFoundException"), "still gone after a reopen");
	ok(keyring_decrypt(kr, blob_keep, sizeof blob_keep, ctx, 2, back, NULL, &err) == 0,
	   "key 2 survives key 1's destruction");
	keyring_close(kr);
}

static void test_policies(void)
{
	struct ct_err err;
	struct keyring *kr = open_ring(&err);
	struct kms_request rq = {.action = "kms:Decrypt", .kind = KMS_PRINCIPAL_USER, .user = "alice",
				 .uid = 1001, .context = ctx, .n_context = 2};
	ok(is(keyring_authorize(kr, key2, &rq, &err), -EACCES, &err, "AccessDeniedException"),
	   "default policy: alice may not decrypt");
	struct kms_request root = rq;
	root.user = "root";
	root.uid = 0;
	ok(keyring_authorize(kr, key2, &root, &err) == 0, "default policy: root may");
	struct buf b;
	buf_init(&b, 1 << 16);
	ok(kmspolicy_for_cloudtrail(A, TRAIL, "alice", 1001, &b) == 0, "console policy");
	ok(is(keyring_put_policy(kr, key2, "{nope", 5, NULL, &err), -EINVAL, &err, "MalformedPolicyDocumentException"),
	   "PutKeyPolicy of bad JSON: MalformedPolicyDocumentException");
	ok(is(keyring_put_policy(kr, "alias/none", b.data, b.len, NULL, &err), -ENOENT, &err, "NotFoundException"),
	   "PutKeyPolicy on an unknown key: NotFoundException");
	ok(keyring_authorize(kr, key2, &root, &err) == 0, "a refused policy changed nothing");
	/* The lockout safety check: alice may not install a policy that
	 * leaves her unable to change it, root may (the policy gives root kms:*). */
	ok(is(keyring_put_policy(kr, key2, b.data, b.len, &rq, &err), -EINVAL, &err,
	      "MalformedPolicyDocumentException") && strstr(err.message, "will not allow you to update"),
	   "PutKeyPolicy by alice, locking her out: refused (%s)", err.message);
	ok(keyring_authorize(kr, key2, &rq, &err) == -EACCES, "the refused policy did not take effect");
	ok(keyring_put_policy(kr, key2, b.data, b.len, &root, &err) == 0, "PutKeyPolicy by root");
	ok(keyring_authorize(kr, key2, &rq, &err) == 0, "the edit takes effect: alice decrypts");
	keyring_close(kr);
	kr = open_ring(&err);
	struct buf got;
	buf_init(&got, 1 << 16);
	ok(keyring_get_policy(kr, key2, &got, &err) == 0 && got.len == b.len && !memcmp(got.data, b.data, b.len),
	   "the policy survives a reopen, byte for byte");
	ok(keyring_authorize(kr, key2, &rq, &err) == 0, "and still allows alice");
	struct kms_request bob = rq;
	bob.user = "bob";
	bob.uid = 1002;
	ok(is(keyring_authorize(kr, key2, &bob, &err), -EACCES, &err, "AccessDeniedException"), "not bob");
	ok(is(keyring_authorize(kr, "alias/none", &bob, &err), -ENOENT, &err, "NotFoundException"),
	   "authorize on an unknown key: NotFoundException");
	buf_release(&b);
	buf_release(&got);
	keyring_close(kr);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void test_damage_and_leftovers(void)
{
	struct ct_err err;
	char idx[512], saved[512];
	snprintf(idx, sizeof idx, "%s/keyring.json", dir);
	snprintf(saved, sizeof saved, "%s/keyring.json.saved", dir);
	/* Leftovers: an orphan key's files and temporary files. */
	const char *orphan = "11111111-2222-4333-8444-555555555555";
	write_text(path_of(orphan, ".key"), "0123456789abcdef0123456789abcdef");
	write_text(path_of(orphan, ".policy.json"), "{}");
	write_text(path_of(key2, ".key.tmp.999"), "x");
	char tmp[600];
	snprintf(tmp, sizeof tmp, "%s.tmp.42", idx);
	write_text(tmp, "{");
	write_text(path_of("notes", ".txt"), "mine");
	struct keyring *kr = open_ring(&err);
	ok(kr != NULL, "open with leftovers (%s)", kr ? "" : err.message);
	ok(access(path_of(orphan, ".key"), F_OK) < 0 && access(path_of(orphan, ".policy.json"), F_OK) < 0,
	   "an orphan key's files are removed");
	ok(access(path_of(key2, ".key.tmp.999"), F_OK) < 0 && access(tmp, F_OK) < 0, "temporary files are removed");
	ok(access(path_of("notes", ".txt"), F_OK) == 0, "files the ring does not own are left alone");
	ok(access(path_of(key2, ".key"), F_OK) == 0, "live key material is kept");
	keyring_close(kr);

	rename(idx, saved);
	static const struct { const char *index; const char *why; } bad[] = {
		{"garbage", "not a JSON object"},
		{"{\"format\":2,\"keys\":[],\"aliases\":[]}", "format is not 1"},
		{"{\"format\":1,\"keys\":{},\"aliases\":[]}", "must be arrays"},
		{"{\"format\":1,\"keys\":[{\"KeyId\":\"x\"}],\"aliases\":[]}", "keys[0]"},
		{"{\"format\":1,\"keys\":[{\"KeyId\":\"11111111-2222-4333-8444-555555555555\",\"CreationDate\":1,"
		 "\"KeyState\":\"Enabled\",\"DeletionDate\":0}],\"aliases\":[]}", "key material is missing"},
		{"{\"format\":1,\"keys\":[],\"aliases\":[{\"AliasName\":\"alias/a\",\"TargetKeyId\":\"nobody\"}]}", "aliases[0]"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_text(idx, bad[i].index);
		kr = open_ring(&err);
		ok(!kr && !strcmp(err.name, "InvalidStateFile") && strstr(err.message, dir) &&
		   strstr(err.message, bad[i].why), "damaged (%s): %s", bad[i].why, err.message);
		keyring_close(kr);
	}
	unlink(idx);
	kr = open_ring(&err);
	ok(!kr && !strcmp(err.name, "InvalidStateFile") && strstr(err.message, "index is missing"),
	   "index lost beside key files: damaged, nothing removed (%s)", err.message);
	ok(access(path_of(key2, ".key"), F_OK) == 0, "the material is still there");
	rename(saved, idx);
	/* Material of the wrong size. */
	char keyp[600], keysaved[700];
	snprintf(keyp, sizeof keyp, "%s", path_of(key2, ".key"));
	snprintf(keysaved, sizeof keysaved, "%s.saved", keyp);
	rename(keyp, keysaved);
	write_text(keyp, "short");
	kr = open_ring(&err);
	ok(!kr && !strcmp(err.name, "InvalidStateFile") && strstr(err.message, keyp) &&
	   strstr(err.message, "5 bytes, not 32"), "short material: damaged, path named (%s)", err.message);
	rename(keysaved, keyp);
	kr = open_ring(&err);
	ok(kr != NULL, "repaired: opens again");
	keyring_close(kr);
}

/* Concurrent data keys and decrypts while another thread flips the state. */
struct worker {
	struct keyring *kr;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 300; i++) {
		uint8_t dk[32], back[32], blob[CRYPTO_WRAPPED_LEN];
		struct ct_err err;
		int r = keyring_generate_data_key(w->kr, key2, ctx, 2, dk, blob, NULL, &err);
		if (r < 0) {
			if (strcmp(err.name, "DisabledException"))
				w->failures++;
			continue;
		}
		r = keyring_decrypt(w->kr, blob, sizeof blob, ctx, 2, back, NULL, &err);
		if (r == 0 ? memcmp(dk, back, 32) != 0 : strcmp(err.name, "DisabledException") != 0)
			w->failures++;
	}
	return NULL;
}

static void *flip(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 20; i++) {
		struct ct_err err;
		if (keyring_set_enabled(w->kr, key2, i % 2, &err) < 0)
			w->failures++;
	}
	struct ct_err err;
	keyring_set_enabled(w->kr, key2, true, &err);
	return NULL;
}

static void test_threads(void)
{
	struct ct_err err;
	struct keyring *kr = open_ring(&err);
	struct worker w[4] = {{kr, 0}, {kr, 0}, {kr, 0}, {kr, 0}};
	pthread_t th[4];
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, work, &w[i]);
	pthread_create(&th[3], NULL, flip, &w[3]);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ok(w[0].failures + w[1].failures + w[2].failures + w[3].failures == 0,
	   "concurrent GenerateDataKey/Decrypt/DisableKey: every result consistent");
	keyring_close(kr);
}

/* No message ever carries key material: run the refusals and look for the
 * material's bytes, hex and base64 in each message. */
static void test_no_material_in_messages(void)
{
	struct ct_err err;
	struct buf mat, hex, b64;
	buf_init(&mat, 64);
	buf_init(&hex, 128);
	buf_init(&b64, 128);
	ok(read_file(path_of(key2, ".key"), &mat) == 0 && mat.len == 32, "read key 2's material");
	for (size_t i = 0; i < mat.len; i++)
		buf_printf(&hex, "%02x", (unsigned char)mat.data[i]);
	crypto_base64_encode(mat.data, mat.len, &b64);
	struct keyring *kr = open_ring(&err);
	uint8_t dk[32], blob[CRYPTO_WRAPPED_LEN];
	keyring_generate_data_key(kr, key2, ctx, 2, dk, blob, NULL, &err);
	struct ct_err errs[6];
	memset(errs, 0, sizeof errs);
	keyring_decrypt(kr, blob, sizeof blob, ctx, 1, dk, NULL, &errs[0]);
	blob[90] ^= 1;
	keyring_decrypt(kr, blob, sizeof blob, ctx, 2, dk, NULL, &errs[1]);
	keyring_set_enabled(kr, key2, false, &errs[2]);
	keyring_generate_data_key(kr, key2, ctx, 2, dk, blob, NULL, &errs[2]);
	keyring_set_enabled(kr, key2, true, &errs[3]);
	keyring_schedule_deletion(kr, key2, 3, T0, NULL, &errs[3]);
	keyring_put_policy(kr, key2, "{", 1, NULL, &errs[4]);
	struct kms_request bob = {.action = "kms:Decrypt", .kind = KMS_PRINCIPAL_USER, .user = "bob", .uid = 1002};
	keyring_authorize(kr, key2, &bob, &errs[5]);
	bool clean = true;
	for (size_t i = 0; i < 6; i++) {
		clean = clean && errs[i].name[0] && !memmem(errs[i].message, strlen(errs[i].message), mat.data, 8) &&
			!strstr(errs[i].message, hex.data + 16) &&
			!memmem(errs[i].message, strlen(errs[i].message), b64.data, 12);
	}
	ok(clean, "six refusals, none with the material in any form");
	keyring_close(kr);
	buf_release(&mat);
	buf_release(&hex);
	buf_release(&b64);
}

static int rm_tree(const char *d)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	return system(cmd);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/trailfs-keyring-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	strncat(dir, "/ring", sizeof dir - strlen(dir) - 1);
	test_names();
	test_create_and_lookup();
	test_data_keys();
	test_deletion();
	test_policies();
	test_damage_and_leftovers();
	test_threads();
	test_no_material_in_messages();
	struct ct_err err;
	ok(keyring_open(dir, "12345", R, &err) == NULL, "a bad account: refused");
	keyring_close(NULL);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	rm_tree(dir);
	return tap_done();
}
