/* The key ring: state in memory, mirrored durably to DIR (see keyring.h).
 *
 * Every change follows one pattern: apply it to the in-memory state, write
 * the index, and undo the in-memory change when the write fails, so a
 * failed call changes nothing.  The lock is held across those writes; the
 * cryptographic calls and policy checks never touch the disk. */
#include "keyring.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "json.h"

#define INDEX_NAME     "keyring.json"
#define KEY_EXT        ".key"
#define POLICY_EXT     ".policy.json"
#define TMP_MARK       ".tmp."
#define STATE_ERR      "InvalidStateFile"
#define NOT_FOUND      "NotFoundException"
#define INVALID_STATE  "KMSInvalidStateException"
#define DISABLED       "DisabledException"
#define BAD_CIPHERTEXT "InvalidCiphertextException"
#define BAD_ALIAS      "InvalidAliasNameException"
#define PATH_LEN_MAX   4096
/* Each key's index entry is under 200 bytes and each alias's under 400. */
#define INDEX_MAX      (1024u * 1024)
#define DIR_MODE       0700
#define FILE_MODE      0600
#define QUOTE_MAX      80

struct kkey {
	char id[CRYPTO_KEY_ID_LEN + 1];
	enum keyring_state state;
	int64_t created;
	int64_t deletion;                  /* 0 unless pending */
	uint8_t material[CRYPTO_KEY_LEN];
	char *policy;                      /* NUL-terminated */
	size_t policy_len;
};

struct keyring {
	pthread_mutex_t lock;              /* guards everything below and DIR */
	char *dir;
	char account[CT_ACCOUNT_LEN + 1];
	char region[CT_REGION_MAX + 1];
	struct kkey *keys;                 /* creation order */
	size_t n_keys;
	struct keyring_alias *aliases;     /* sorted by name */
	size_t n_aliases;
};

const char *keyring_state_name(enum keyring_state s)
{
	switch (s) {
	case KEYRING_ENABLED:
		return "Enabled";
	case KEYRING_DISABLED:
		return "Disabled";
	case KEYRING_PENDING_DELETION:
		return "PendingDeletion";
	}
	return "Unavailable";
}

static int state_from_name(const char *s, enum keyring_state *out)
{
	static const enum keyring_state all[] = {KEYRING_ENABLED, KEYRING_DISABLED,
		KEYRING_PENDING_DELETION};
	for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(s, keyring_state_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return -EINVAL;
}

/* ---- paths and names ------------------------------------------------------ */

static int file_path(const struct keyring *kr, const char *id, const char *ext, struct buf *out)
{
	buf_init(out, PATH_LEN_MAX);
	return buf_printf(out, "%s/%s%s", kr->dir, id, ext);
}

static void key_arn(const struct keyring *kr, const char *id, char out[KEYRING_ARN_MAX])
{
	snprintf(out, KEYRING_ARN_MAX, "arn:aws:kms:%s:%s:key/%s", kr->region, kr->account, id);
}

/* Text from outside, for a message: cut and with control bytes as '?'. */
static void sanitized(const char *s, char out[QUOTE_MAX + 4])
{
	size_t n = strlen(s), o = 0;
	bool cut = n > QUOTE_MAX;
	if (cut) {
		n = QUOTE_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		out[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (cut)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
}

int keyring_alias_name_check(const char *name, struct ct_err *err)
{
	char q[QUOTE_MAX + 4];
	if (!name || strncmp(name, "alias/", 6) || !name[6]) {
		sanitized(name ? name : "", q);
		return ct_fail(err, BAD_ALIAS, "Alias must start with the prefix \"alias/\" followed "
			       "by a name: %s", q);
	}
	size_t n = strlen(name);
	for (size_t i = 6; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '-')) {
			sanitized(name, q);
			return ct_fail(err, BAD_ALIAS, "Alias %s must contain only alphanumeric "
				       "characters, forward slashes (/), underscores (_) and dashes (-)",
				       q);
		}
	}
	if (n > KEYRING_ALIAS_MAX) {
		sanitized(name, q);
		return ct_fail(err, BAD_ALIAS, "Alias %s is %zu characters; at most %d are allowed",
			       q, n, KEYRING_ALIAS_MAX);
	}
	if (!strncmp(name, "alias/aws/", 10))
		return ct_fail(err, BAD_ALIAS, "Alias must not begin with \"alias/aws/\": that "
			       "prefix is reserved for AWS managed keys");
	return 0;
}

/* ---- lookup ---------------------------------------------------------------- */

static struct kkey *find_id(struct keyring *kr, const char *id)
{
	for (size_t i = 0; i < kr->n_keys; i++)
		if (!strcmp(kr->keys[i].id, id))
			return &kr->keys[i];
	return NULL;
}

static struct keyring_alias *find_alias(struct keyring *kr, const char *name)
{
	for (size_t i = 0; i < kr->n_aliases; i++)
		if (!strcmp(kr->aliases[i].name, name))
			return &kr->aliases[i];
	return NULL;
}

/* The key spec names, or NULL with NotFoundException.  allow_alias false:
 * only key ids and key ARNs (CreateAlias's TargetKeyId). */
static struct kkey *resolve(struct keyring *kr, const char *spec, bool allow_alias,
			    struct ct_err *err)
{
	char q[QUOTE_MAX + 4];
	sanitized(spec ? spec : "", q);
	if (!spec || !*spec) {
		ct_fail(err, NOT_FOUND, "Invalid keyId ''");
		return NULL;
	}
	const char *rest = spec;
	char prefix[KEYRING_ARN_MAX];
	int pl = snprintf(prefix, sizeof prefix, "arn:aws:kms:%s:%s:", kr->region, kr->account);
	if (!strncmp(spec, "arn:", 4)) {
		if (strncmp(spec, prefix, (size_t)pl)) {
			ct_fail(err, NOT_FOUND, "Invalid arn %s: not a key of %s in %s", q,
				kr->account, kr->region);
			return NULL;
		}
		rest = spec + pl;
		if (!strncmp(rest, "key/", 4)) {
			rest += 4;
		} else if (strncmp(rest, "alias/", 6)) {
			ct_fail(err, NOT_FOUND, "Invalid arn %s", q);
			return NULL;
		}
	}
	if (!strncmp(rest, "alias/", 6)) {
		struct keyring_alias *a = allow_alias ? find_alias(kr, rest) : NULL;
		struct kkey *k = a ? find_id(kr, a->target) : NULL;
		if (!k) {
			char shown[KEYRING_ALIAS_MAX + 4];
			sanitized(rest, shown);
			if (allow_alias)
				ct_fail(err, NOT_FOUND, "Alias %s%s is not found.", prefix, shown);
			else
				ct_fail(err, NOT_FOUND, "Invalid keyId %s: an alias does not name a "
					"target key", q);
		}
		return k;
	}
	if (!crypto_uuid_ok(rest)) {
		ct_fail(err, NOT_FOUND, "Invalid keyId %s", q);
		return NULL;
	}
	struct kkey *k = find_id(kr, rest);
	if (!k) {
		char arn[KEYRING_ARN_MAX];
		key_arn(kr, rest, arn);
		ct_fail(err, NOT_FOUND, "Key '%s' does not exist", arn);
	}
	return k;
}

static void fill_info(const struct keyring *kr, const struct kkey *k, struct keyring_key_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof *info);
	memcpy(info->key_id, k->id, sizeof info->key_id);
	key_arn(kr, k->id, info->arn);
	info->state = k->state;
	info->creation_date = k->created;
	info->deletion_date = k->deletion;
}

/* KMS's refusal for a key that cannot encrypt or decrypt now. */
static int usable(const struct keyring *kr, const struct kkey *k, struct ct_err *err)
{
	char arn[KEYRING_ARN_MAX];
	key_arn(kr, k->id, arn);
	if (k->state == KEYRING_DISABLED)
		return ct_fail(err, DISABLED, "%s is disabled.", arn);
	if (k->state == KEYRING_PENDING_DELETION)
		return ct_fail(err, INVALID_STATE, "%s is pending deletion.", arn);
	return 0;
}

static int pending_refusal(const struct keyring *kr, const struct kkey *k, struct ct_err *err)
{
	char arn[KEYRING_ARN_MAX];
	key_arn(kr, k->id, arn);
	return ct_fail(err, INVALID_STATE, "%s is pending deletion.", arn);
}

/* ---- the index --------------------------------------------------------------- */

static char *index_text(const struct keyring *kr)
{
	json *doc = json_new_object(), *keys = json_new_array(), *aliases = json_new_array();
	bool ok = doc && keys && aliases;
	for (size_t i = 0; ok && i < kr->n_keys; i++) {
		const struct kkey *k = &kr->keys[i];
		json *e = json_new_object();
		ok = e && json_add_string(e, "KeyId", k->id) == 0 &&
		     json_add_number(e, "CreationDate", (double)k->created) == 0 &&
		     json_add_string(e, "KeyState", keyring_state_name(k->state)) == 0 &&
		     json_add_number(e, "DeletionDate", (double)k->deletion) == 0;
		if (ok)
			ok = json_append(keys, e) == 0;
		else
			json_free(e);
	}
	for (size_t i = 0; ok && i < kr->n_aliases; i++) {
		json *e = json_new_object();
		ok = e && json_add_string(e, "AliasName", kr->aliases[i].name) == 0 &&
		     json_add_string(e, "TargetKeyId", kr->aliases[i].target) == 0;
		if (ok)
			ok = json_append(aliases, e) == 0;
		else
			json_free(e);
	}
	char *text = NULL;
	if (ok && json_add_number(doc, "format", KEYRING_FORMAT) == 0) {
		int r = json_add(doc, "keys", keys);
		keys = NULL;
		if (r == 0) {
			r = json_add(doc, "aliases", aliases);
			aliases = NULL;
		}
		if (r == 0)
			text = json_print(doc, true);
	}
	json_free(keys);
	json_free(aliases);
	json_free(doc);
	return text;
}

static int index_write(const struct keyring *kr, struct ct_err *err)
{
	char *text = index_text(kr);
	if (!text)
		return ct_fail_errno(err, ENOMEM, "key ring index");
	struct buf path;
	buf_init(&path, PATH_LEN_MAX);
	int r = buf_printf(&path, "%s/%s", kr->dir, INDEX_NAME);
	if (r == 0)
		r = write_file_durable(path.data, text, strlen(text), FILE_MODE);
	if (r < 0)
		ct_fail_errno(err, r, buf_str(&path));
	free(text);
	buf_release(&path);
	return r;
}

/* ---- loading ------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static int damaged(struct ct_err *err, const char *path, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return ct_fail(err, STATE_ERR, "the key ring state %s is damaged: %s", path, why);
}

static bool integral(const json *v, int64_t *out)
{
	if (!json_is_number(v))
		return false;
	double d = json_number(v);
	if (d < 0 || d > 253402300799.0 || d != (double)(int64_t)d)
		return false;
	*out = (int64_t)d;
	return true;
}

/* Read a key's material and policy into k. */
static int load_files(struct keyring *kr, struct kkey *k, struct ct_err *err)
{
	struct buf path, data;
	int r = file_path(kr, k->id, KEY_EXT, &path);
	buf_init(&data, CRYPTO_KEY_LEN + 1);
	if (r == 0)
		r = read_file(path.data, &data);
	if (r == 0 && data.len != CRYPTO_KEY_LEN)
		r = damaged(err, path.data, "key material is %zu bytes, not %d", data.len,
			    CRYPTO_KEY_LEN);
	else if (r == -ENOENT || r == -E2BIG)
		r = damaged(err, path.data, "%s", r == -ENOENT ? "key material is missing"
			    : "key material is too long");
	else if (r < 0)
		r = ct_fail_errno(err, r, buf_str(&path));
	if (r == 0)
		memcpy(k->material, data.data, CRYPTO_KEY_LEN);
	if (data.data)
		crypto_wipe(data.data, data.cap);
	buf_release(&data);
	buf_release(&path);
	if (r < 0)
		return r;
	r = file_path(kr, k->id, POLICY_EXT, &path);
	buf_init(&data, KMSPOLICY_MAX);
	if (r == 0)
		r = read_file(path.data, &data);
	if (r == -ENOENT || r == -E2BIG)
		r = damaged(err, path.data, "%s", r == -ENOENT ? "the key policy is missing"
			    : "the key policy is over 32 KB");
	else if (r < 0)
		r = ct_fail_errno(err, r, buf_str(&path));
	if (r == 0) {
		k->policy_len = data.len;
		k->policy = buf_take(&data);
		if (!k->policy)
			r = ct_fail_errno(err, ENOMEM, "key policy");
	}
	buf_release(&data);
	buf_release(&path);
	return r;
}

static int load_index(struct keyring *kr, const char *path, const char *text, size_t len,
		      struct ct_err *err)
{
	json *doc = json_parse(text, len, NULL);
	int r = 0;
	const json *v;
	if (!json_is_object(doc)) {
		r = damaged(err, path, "not a JSON object");
		goto out;
	}
	v = json_get(doc, "format");
	if (!json_is_number(v) || json_number(v) != KEYRING_FORMAT) {
		r = damaged(err, path, "format is not %d", KEYRING_FORMAT);
		goto out;
	}
	const json *keys = json_get(doc, "keys"), *aliases = json_get(doc, "aliases");
	if (!json_is_array(keys) || !json_is_array(aliases) || json_size(keys) > KEYRING_KEYS_MAX ||
	    json_size(aliases) > KEYRING_ALIASES_MAX) {
		r = damaged(err, path, "\"keys\" and \"aliases\" must be arrays within the limits");
		goto out;
	}
	kr->keys = calloc(json_size(keys) + 1, sizeof *kr->keys);
	kr->aliases = calloc(json_size(aliases) + 1, sizeof *kr->aliases);
	if (!kr->keys || !kr->aliases) {
		r = ct_fail_errno(err, ENOMEM, "key ring");
		goto out;
	}
	size_t i = 0;
	for (const json *e = json_first(keys); e; e = json_next(e), i++) {
		struct kkey *k = &kr->keys[kr->n_keys];
		const char *id = json_string(json_get(e, "KeyId"));
		if (!crypto_uuid_ok(id) || find_id(kr, id) ||
		    state_from_name(json_string(json_get(e, "KeyState")), &k->state) < 0 ||
		    !integral(json_get(e, "CreationDate"), &k->created) ||
		    !integral(json_get(e, "DeletionDate"), &k->deletion) ||
		    (k->state == KEYRING_PENDING_DELETION) != (k->deletion != 0)) {
			r = damaged(err, path, "keys[%zu] is not a valid key entry", i);
			goto out;
		}
		memcpy(k->id, id, sizeof k->id);
		kr->n_keys++;
		if ((r = load_files(kr, k, err)) < 0)
			goto out;
	}
	i = 0;
	for (const json *e = json_first(aliases); e; e = json_next(e), i++) {
		const char *name = json_string(json_get(e, "AliasName"));
		const char *target = json_string(json_get(e, "TargetKeyId"));
		if (!name || keyring_alias_name_check(name, NULL) < 0 || find_alias(kr, name) ||
		    !target || !find_id(kr, target) ||
		    (i > 0 && strcmp(kr->aliases[i - 1].name, name) >= 0)) {
			r = damaged(err, path, "aliases[%zu] is not a valid alias entry", i);
			goto out;
		}
		snprintf(kr->aliases[i].name, sizeof kr->aliases[i].name, "%s", name);
		snprintf(kr->aliases[i].target, sizeof kr->aliases[i].target, "%s", target);
		kr->n_aliases++;
	}
out:
	json_free(doc);
	return r;
}

/* Overwrite a file's bytes with zeros and sync before unlinking it, so the
 * material does not stay in the freed blocks of an ordinary file system
 * (copy-on-write file systems and SSD remapping may still keep old blocks:
 * the guarantee is that trailfs can never read the key again). */
static int shred(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			uint8_t zero[CRYPTO_KEY_LEN] = {0};
			for (off_t o = 0; o < st.st_size; o += (off_t)sizeof zero)
				if (pwrite(fd, zero, sizeof zero, o) < 0)
					break;
			fsync(fd);
		}
		close(fd);
	}
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* A directory entry the ring owns: UUID + ext (optionally + ".tmp.PID"). */
static bool owned_name(const char *name, char id[CRYPTO_KEY_ID_LEN + 1], bool *is_key,
		       bool *is_temp)
{
	if (!strncmp(name, INDEX_NAME TMP_MARK, sizeof INDEX_NAME TMP_MARK - 1)) {
		id[0] = '\0';
		*is_key = false;
		*is_temp = true;
		return true;
	}
	if (strlen(name) < CRYPTO_KEY_ID_LEN)
		return false;
	memcpy(id, name, CRYPTO_KEY_ID_LEN);
	id[CRYPTO_KEY_ID_LEN] = '\0';
	if (!crypto_uuid_ok(id))
		return false;
	const char *ext = name + CRYPTO_KEY_ID_LEN;
	size_t el;
	if (!strncmp(ext, KEY_EXT, strlen(KEY_EXT)) && strncmp(ext, POLICY_EXT, strlen(POLICY_EXT))) {
		*is_key = true;
		el = strlen(KEY_EXT);
	} else if (!strncmp(ext, POLICY_EXT, strlen(POLICY_EXT))) {
		*is_key = false;
		el = strlen(POLICY_EXT);
	} else {
		return false;
	}
	*is_temp = ext[el] != '\0';
	return !*is_temp || !strncmp(ext + el, TMP_MARK, strlen(TMP_MARK));
}

/* Remove leftovers: temporary files, and files of keys the index does not
 * name.  Only called with an index in place (see keyring_open). */
static int sweep(struct keyring *kr, struct ct_err *err)
{
	DIR *d = opendir(kr->dir);
	if (!d)
		return ct_fail_errno(err, errno, kr->dir);
	bool removed = false;
	int r = 0;
	for (struct dirent *e; r == 0 && (e = readdir(d));) {
		char id[CRYPTO_KEY_ID_LEN + 1];
		bool is_key, is_temp;
		if (!owned_name(e->d_name, id, &is_key, &is_temp))
			continue;
		if (!is_temp && find_id(kr, id))
			continue;
		struct buf path;
		buf_init(&path, PATH_LEN_MAX);
		r = buf_printf(&path, "%s/%s", kr->dir, e->d_name);
		if (r == 0)
			r = is_key ? shred(path.data) : (unlink(path.data) < 0 ? -errno : 0);
		if (r < 0)
			ct_fail_errno(err, r, buf_str(&path));
		buf_release(&path);
		removed = true;
	}
	closedir(d);
	if (r == 0 && removed && (r = fsync_dir(kr->dir)) < 0)
		ct_fail_errno(err, r, kr->dir);
	return r;
}

/* Is there any key file in a directory without an index?  Then the index
 * was lost, and the ring is damaged rather than new. */
static bool has_key_files(const char *dir)
{
	DIR *d = opendir(dir);
	bool any = false;
	for (struct dirent *e; d && !any && (e = readdir(d));) {
		char id[CRYPTO_KEY_ID_LEN + 1];
		bool is_key, is_temp;
		any = owned_name(e->d_name, id, &is_key, &is_temp) && id[0] && !is_temp;
	}
	if (d)
		closedir(d);
	return any;
}

static void free_state(struct keyring *kr)
{
	for (size_t i = 0; i < kr->n_keys; i++) {
		crypto_wipe(kr->keys[i].material, CRYPTO_KEY_LEN);
		free(kr->keys[i].policy);
	}
	free(kr->keys);
	free(kr->aliases);
	kr->keys = NULL;
	kr->aliases = NULL;
	kr->n_keys = kr->n_aliases = 0;
}

void keyring_close(struct keyring *kr)
{
	if (!kr)
		return;
	free_state(kr);
	pthread_mutex_destroy(&kr->lock);
	free(kr->dir);
	free(kr);
}

struct keyring *keyring_open(const char *dir, const char *account, const char *region,
			     struct ct_err *err)
{
	if (!dir || !*dir || !account || strlen(account) != CT_ACCOUNT_LEN ||
	    strspn(account, "0123456789") != CT_ACCOUNT_LEN || !region || !*region ||
	    strlen(region) > CT_REGION_MAX) {
		ct_fail(err, "ValidationException", "a key ring needs a directory, a 12-digit "
			"account and a region");
		return NULL;
	}
	struct keyring *kr = calloc(1, sizeof *kr);
	if (!kr || !(kr->dir = strdup(dir))) {
		free(kr);
		ct_fail_errno(err, ENOMEM, "key ring");
		return NULL;
	}
	pthread_mutex_init(&kr->lock, NULL);
	snprintf(kr->account, sizeof kr->account, "%s", account);
	snprintf(kr->region, sizeof kr->region, "%s", region);
	int r = mkdir_p(dir, DIR_MODE);
	if (r == 0 && chmod(dir, DIR_MODE) < 0)
		r = -errno;
	if (r < 0) {
		ct_fail_errno(err, r, dir);
		keyring_close(kr);
		return NULL;
	}
	struct buf path, text;
	buf_init(&path, PATH_LEN_MAX);
	buf_init(&text, INDEX_MAX);
	r = buf_printf(&path, "%s/%s", dir, INDEX_NAME);
	if (r == 0)
		r = read_file(path.data, &text);
	if (r == -ENOENT) {
		if (has_key_files(dir))
			r = damaged(err, path.data, "the index is missing but key files exist");
		else
			r = 0;
	} else if (r == -E2BIG) {
		r = damaged(err, path.data, "the index is over %u bytes", INDEX_MAX);
	} else if (r < 0) {
		ct_fail_errno(err, r, buf_str(&path));
	} else {
		r = load_index(kr, path.data, text.data, text.len, err);
		if (r == 0)
			r = sweep(kr, err);
	}
	buf_release(&path);
	buf_release(&text);
	if (r < 0) {
		keyring_close(kr);
		return NULL;
	}
	return kr;
}

/* ---- changes --------------------------------------------------------------- */

static int write_key_files(struct keyring *kr, const struct kkey *k, bool material,
			   const char *policy, size_t policy_len, struct ct_err *err)
{
	struct buf path;
	int r = 0;
	if (material) {
		r = file_path(kr, k->id, KEY_EXT, &path);
		if (r == 0)
			r = write_file_durable(path.data, k->material, CRYPTO_KEY_LEN, FILE_MODE);
		if (r < 0)
			ct_fail_errno(err, r, buf_str(&path));
		buf_release(&path);
	}
	if (r == 0 && policy) {
		r = file_path(kr, k->id, POLICY_EXT, &path);
		if (r == 0)
			r = write_file_durable(path.data, policy, policy_len, FILE_MODE);
		if (r < 0)
			ct_fail_errno(err, r, buf_str(&path));
		buf_release(&path);
	}
	return r;
}

int keyring_create_key(struct keyring *kr, const char *policy, size_t policy_len, int64_t now,
		       struct keyring_key_info *info, struct ct_err *err)
{
	char deflt[512];
	if (!policy) {
		snprintf(deflt, sizeof deflt,
			 "{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n"
			 "  \"Statement\" : [ {\n    \"Sid\" : \"Enable IAM User Permissions\",\n"
			 "    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n"
			 "      \"AWS\" : \"arn:aws:iam::%s:root\"\n    },\n"
			 "    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}",
			 kr->account);
		policy = deflt;
		policy_len = strlen(deflt);
	}
	int r = kmspolicy_validate(policy, policy_len, err);
	if (r < 0)
		return r;
	if (now < 0)
		return ct_fail(err, "ValidationException", "the creation time is negative");
	char *copy = malloc(policy_len + 1);
	if (!copy)
		return ct_fail_errno(err, ENOMEM, "key policy");
	memcpy(copy, policy, policy_len);
	copy[policy_len] = '\0';
	pthread_mutex_lock(&kr->lock);
	if (kr->n_keys >= KEYRING_KEYS_MAX) {
		r = ct_fail(err, "LimitExceededException", "the key ring holds %d keys, its limit",
			    KEYRING_KEYS_MAX);
		goto fail;
	}
	struct kkey k = {.state = KEYRING_ENABLED, .created = now};
	do {
		r = crypto_uuid(k.id);
	} while (r == 0 && find_id(kr, k.id));
	if (r == 0)
		r = crypto_random(k.material, sizeof k.material);
	if (r < 0) {
		ct_fail_errno(err, r, "random bytes");
		goto fail;
	}
	struct kkey *grown = realloc(kr->keys, (kr->n_keys + 1) * sizeof *grown);
	if (!grown) {
		r = ct_fail_errno(err, ENOMEM, "key ring");
		crypto_wipe(&k, sizeof k);
		goto fail;
	}
	kr->keys = grown;
	/* Files first, the index last: until the index names the key, the
	 * files are leftovers the next open removes. */
	r = write_key_files(kr, &k, true, copy, policy_len, err);
	if (r == 0) {
		k.policy = copy;
		k.policy_len = policy_len;
		kr->keys[kr->n_keys++] = k;
		r = index_write(kr, err);
		if (r < 0) {
			kr->n_keys--;
			k.policy = NULL;
		}
	}
	if (r == 0) {
		fill_info(kr, &kr->keys[kr->n_keys - 1], info);
		copy = NULL;
	} else {
		struct buf path;
		if (file_path(kr, k.id, KEY_EXT, &path) == 0)
			shred(path.data);
		buf_release(&path);
		if (file_path(kr, k.id, POLICY_EXT, &path) == 0)
			unlink(path.data);
		buf_release(&path);
	}
	crypto_wipe(&k, sizeof k);
fail:
	pthread_mutex_unlock(&kr->lock);
	free(copy);
	return r;
}

static int alias_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyring_alias *)a)->name, ((const struct keyring_alias *)b)->name);
}

int keyring_create_alias(struct keyring *kr, const char *name, const char *target,
			 struct ct_err *err)
{
	int r = keyring_alias_name_check(name, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, target, false, err);
	if (!k) {
		r = -ENOENT;
	} else if (k->state == KEYRING_PENDING_DELETION) {
		r = pending_refusal(kr, k, err);
	} else if (find_alias(kr, name)) {
		r = ct_fail(err, "AlreadyExistsException", "An alias with the name arn:aws:kms:%s:%s:%s "
			    "already exists", kr->region, kr->account, name);
	} else if (kr->n_aliases >= KEYRING_ALIASES_MAX) {
		r = ct_fail(err, "LimitExceededException", "the key ring holds %d aliases, its limit",
			    KEYRING_ALIASES_MAX);
	} else {
		struct keyring_alias *grown = realloc(kr->aliases, (kr->n_aliases + 1) * sizeof *grown);
		if (!grown) {
			r = ct_fail_errno(err, ENOMEM, "key ring");
		} else {
			kr->aliases = grown;
			struct keyring_alias *a = &kr->aliases[kr->n_aliases++];
			snprintf(a->name, sizeof a->name, "%s", name);
			memcpy(a->target, k->id, sizeof a->target);
			qsort(kr->aliases, kr->n_aliases, sizeof *kr->aliases, alias_cmp);
			r = index_write(kr, err);
			if (r < 0) {
				struct keyring_alias *added = find_alias(kr, name);
				memmove(added, added + 1,
					(size_t)(kr->aliases + kr->n_aliases - added - 1) * sizeof *added);
				kr->n_aliases--;
			}
		}
	}
	pthread_mutex_unlock(&kr->lock);
	return r;
}

int keyring_delete_alias(struct keyring *kr, const char *name, struct ct_err *err)
{
	pthread_mutex_lock(&kr->lock);
	struct keyring_alias *a = name ? find_alias(kr, name) : NULL;
	int r = 0;
	if (!a) {
		char q[QUOTE_MAX + 4];
		sanitized(name ? name : "", q);
		r = ct_fail(err, NOT_FOUND, "Alias arn:aws:kms:%s:%s:%s is not found.", kr->region,
			    kr->account, q);
	} else {
		struct keyring_alias saved = *a;
		size_t at = (size_t)(a - kr->aliases);
		memmove(a, a + 1, (kr->n_aliases - at - 1) * sizeof *a);
		kr->n_aliases--;
		r = index_write(kr, err);
		if (r < 0) {
			memmove(kr->aliases + at + 1, kr->aliases + at,
				(kr->n_aliases - at) * sizeof *a);
			kr->aliases[at] = saved;
			kr->n_aliases++;
		}
	}
	pthread_mutex_unlock(&kr->lock);
	return r;
}

int keyring_describe(struct keyring *kr, const char *key_spec, struct keyring_key_info *info,
		     struct ct_err *err)
{
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	if (k)
		fill_info(kr, k, info);
	pthread_mutex_unlock(&kr->lock);
	return k ? 0 : -ENOENT;
}

int keyring_list(struct keyring *kr, struct keyring_key_info **keys, size_t *n_keys,
		 struct keyring_alias **aliases, size_t *n_aliases)
{
	*keys = NULL;
	*aliases = NULL;
	*n_keys = *n_aliases = 0;
	pthread_mutex_lock(&kr->lock);
	int r = 0;
	if (kr->n_keys && !(*keys = calloc(kr->n_keys, sizeof **keys)))
		r = -ENOMEM;
	if (r == 0 && kr->n_aliases && !(*aliases = calloc(kr->n_aliases, sizeof **aliases)))
		r = -ENOMEM;
	if (r == 0) {
		for (size_t i = 0; i < kr->n_keys; i++)
			fill_info(kr, &kr->keys[i], &(*keys)[i]);
		if (kr->n_aliases)
			memcpy(*aliases, kr->aliases, kr->n_aliases * sizeof **aliases);
		*n_keys = kr->n_keys;
		*n_aliases = kr->n_aliases;
	} else {
		free(*keys);
		*keys = NULL;
	}
	pthread_mutex_unlock(&kr->lock);
	return r;
}

/* Change k's state and deletion date durably, or leave both as they were. */
static int set_state(struct keyring *kr, struct kkey *k, enum keyring_state s, int64_t deletion,
		     struct ct_err *err)
{
	enum keyring_state old = k->state;
	int64_t old_del = k->deletion;
	if (old == s && old_del == deletion)
		return 0;
	k->state = s;
	k->deletion = deletion;
	int r = index_write(kr, err);
	if (r < 0) {
		k->state = old;
		k->deletion = old_del;
	}
	return r;
}

int keyring_set_enabled(struct keyring *kr, const char *key_spec, bool enabled,
			struct ct_err *err)
{
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	int r = -ENOENT;
	if (k && k->state == KEYRING_PENDING_DELETION)
		r = pending_refusal(kr, k, err);
	else if (k)
		r = set_state(kr, k, enabled ? KEYRING_ENABLED : KEYRING_DISABLED, 0, err);
	pthread_mutex_unlock(&kr->lock);
	return r;
}

int keyring_schedule_deletion(struct keyring *kr, const char *key_spec, int days, int64_t now,
			      int64_t *deletion_date, struct ct_err *err)
{
	if (days < KEYRING_WINDOW_MIN_DAYS || days > KEYRING_WINDOW_MAX_DAYS)
		return ct_fail(err, "ValidationException", "PendingWindowInDays must be between %d "
			       "and %d", KEYRING_WINDOW_MIN_DAYS, KEYRING_WINDOW_MAX_DAYS);
	if (now < 0)
		return ct_fail(err, "ValidationException", "the time is negative");
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	int r = -ENOENT;
	int64_t when = now + (int64_t)days * KEYRING_DAY_SECONDS;
	if (k && k->state == KEYRING_PENDING_DELETION)
		r = pending_refusal(kr, k, err);
	else if (k)
		r = set_state(kr, k, KEYRING_PENDING_DELETION, when, err);
	if (r == 0 && deletion_date)
		*deletion_date = when;
	pthread_mutex_unlock(&kr->lock);
	return r;
}

int keyring_cancel_deletion(struct keyring *kr, const char *key_spec, struct ct_err *err)
{
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	int r = -ENOENT;
	if (k && k->state != KEYRING_PENDING_DELETION) {
		char arn[KEYRING_ARN_MAX];
		key_arn(kr, k->id, arn);
		r = ct_fail(err, INVALID_STATE, "%s is not pending deletion.", arn);
	} else if (k) {
		r = set_state(kr, k, KEYRING_DISABLED, 0, err);
	}
	pthread_mutex_unlock(&kr->lock);
	return r;
}

int keyring_expire(struct keyring *kr, int64_t now, size_t *destroyed, int64_t *next,
		   struct ct_err *err)
{
	if (destroyed)
		*destroyed = 0;
	if (next)
		*next = 0;
	pthread_mutex_lock(&kr->lock);
	/* The index is written without the expired keys first; only then do
	 * their files go, so a crash in between leaves files the next open
	 * sweeps, never an index naming missing material.  snapshot keeps the
	 * arrays as they were, to undo a failed write. */
	size_t n = kr->n_keys, n_aliases = kr->n_aliases, kept = 0, n_gone = 0;
	struct kkey *snapshot = calloc(n + 1, sizeof *snapshot);
	struct kkey *gone = calloc(n + 1, sizeof *gone);
	struct keyring_alias *aliases = calloc(n_aliases + 1, sizeof *aliases);
	int r = 0;
	if (!snapshot || !gone || !aliases) {
		r = ct_fail_errno(err, ENOMEM, "key ring");
		goto out;
	}
	memcpy(snapshot, kr->keys, n * sizeof *snapshot);
	memcpy(aliases, kr->aliases, n_aliases * sizeof *aliases);
	for (size_t i = 0; i < n; i++) {
		if (snapshot[i].state == KEYRING_PENDING_DELETION && snapshot[i].deletion <= now)
			gone[n_gone++] = snapshot[i];
		else
			kr->keys[kept++] = snapshot[i];
	}
	if (n_gone == 0)
		goto out;
	kr->n_keys = kept;
	size_t a_kept = 0;
	for (size_t i = 0; i < n_aliases; i++)
		if (find_id(kr, aliases[i].target))
			kr->aliases[a_kept++] = aliases[i];
	kr->n_aliases = a_kept;
	r = index_write(kr, err);
	if (r < 0) {
		memcpy(kr->keys, snapshot, n * sizeof *snapshot);
		kr->n_keys = n;
		memcpy(kr->aliases, aliases, n_aliases * sizeof *aliases);
		kr->n_aliases = n_aliases;
		goto out;
	}
	for (size_t i = 0; i < n_gone; i++) {
		struct buf path;
		int e = file_path(kr, gone[i].id, KEY_EXT, &path);
		if (e == 0)
			e = shred(path.data);
		buf_release(&path);
		if (e == 0 && (e = file_path(kr, gone[i].id, POLICY_EXT, &path)) == 0 &&
		    unlink(path.data) < 0 && errno != ENOENT)
			e = -errno;
		buf_release(&path);
		if (e < 0 && r == 0)
			r = ct_fail_errno(err, e, "destroying key material");
		free(gone[i].policy);
	}
	crypto_wipe(kr->keys + kept, (n - kept) * sizeof *kr->keys);
	if (r == 0 && (r = fsync_dir(kr->dir)) < 0)
		ct_fail_errno(err, r, kr->dir);
	if (destroyed)
		*destroyed = n_gone;
out:
	if (next)
		for (size_t i = 0; i < kr->n_keys; i++)
			if (kr->keys[i].state == KEYRING_PENDING_DELETION &&
			    (*next == 0 || kr->keys[i].deletion < *next))
				*next = kr->keys[i].deletion;
	pthread_mutex_unlock(&kr->lock);
	/* Both copies held the destroyed keys' material. */
	if (snapshot)
		crypto_wipe(snapshot, (n + 1) * sizeof *snapshot);
	if (gone)
		crypto_wipe(gone, (n + 1) * sizeof *gone);
	free(snapshot);
	free(gone);
	free(aliases);
	return r;
}

int keyring_get_policy(struct keyring *kr, const char *key_spec, struct buf *out,
		       struct ct_err *err)
{
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	int r = k ? buf_add(out, k->policy, k->policy_len) : -ENOENT;
	pthread_mutex_unlock(&kr->lock);
	return r;
}

/* KMS's lockout safety check: the new policy must still let the caller
 * change the policy. */
static int lockout_check(struct keyring *kr, const struct kkey *k, const char *doc, size_t len,
			 const struct kms_request *caller, struct ct_err *err)
{
	char arn[KEYRING_ARN_MAX];
	key_arn(kr, k->id, arn);
	struct kms_request q = *caller;
	q.action = "kms:PutKeyPolicy";
	q.key_arn = arn;
	q.account = kr->account;
	struct ct_err why;
	int r = kmspolicy_evaluate(doc, len, &q, &why);
	if (r == -EACCES)
		return ct_fail(err, "MalformedPolicyDocumentException", "The new key policy will not "
			       "allow you to update the key policy in the future.");
	if (r < 0)
		return ct_fail(err, "ValidationException", "the caller of PutKeyPolicy is not a "
			       "complete principal");
	return 0;
}

int keyring_put_policy(struct keyring *kr, const char *key_spec, const char *doc, size_t len,
		       const struct kms_request *caller, struct ct_err *err)
{
	int r = kmspolicy_validate(doc, len, err);
	if (r < 0)
		return r;
	char *copy = malloc(len + 1);
	if (!copy)
		return ct_fail_errno(err, ENOMEM, "key policy");
	memcpy(copy, doc, len);
	copy[len] = '\0';
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	if (!k)
		r = -ENOENT;
	else if (k->state == KEYRING_PENDING_DELETION)
		r = pending_refusal(kr, k, err);
	else if (caller && (r = lockout_check(kr, k, copy, len, caller, err)) < 0)
		;
	else
		r = write_key_files(kr, k, false, copy, len, err);
	if (r == 0) {
		free(k->policy);
		k->policy = copy;
		k->policy_len = len;
		copy = NULL;
	}
	pthread_mutex_unlock(&kr->lock);
	free(copy);
	return r;
}

int keyring_authorize(struct keyring *kr, const char *key_spec, const struct kms_request *rq,
		      struct ct_err *err)
{
	if (!rq)
		return -EINVAL;
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	int r = -ENOENT;
	if (k) {
		char arn[KEYRING_ARN_MAX];
		key_arn(kr, k->id, arn);
		struct kms_request q = *rq;
		if (!q.key_arn)
			q.key_arn = arn;
		if (!q.account)
			q.account = kr->account;
		r = kmspolicy_evaluate(k->policy, k->policy_len, &q, err);
	}
	pthread_mutex_unlock(&kr->lock);
	return r;
}

int keyring_generate_data_key(struct keyring *kr, const char *key_spec,
			      const struct crypto_context_pair *ctx, size_t n,
			      uint8_t plaintext[CRYPTO_KEY_LEN], uint8_t blob[CRYPTO_WRAPPED_LEN],
			      char key_arn_out[KEYRING_ARN_MAX], struct ct_err *err)
{
	crypto_wipe(plaintext, CRYPTO_KEY_LEN);
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = resolve(kr, key_spec, true, err);
	int r = -ENOENT;
	if (k) {
		if (key_arn_out)
			key_arn(kr, k->id, key_arn_out);
		r = usable(kr, k, err);
	}
	if (r == 0 && (r = crypto_random(plaintext, CRYPTO_KEY_LEN)) < 0)
		ct_fail_errno(err, r, "random bytes");
	if (r == 0) {
		r = crypto_wrap_key(k->material, k->id, plaintext, ctx, n, blob);
		if (r == -EINVAL)
			ct_fail(err, "ValidationException", "the encryption context is not valid: "
				"keys must be distinct and non-empty, at most %d pairs and %d bytes",
				CRYPTO_CONTEXT_PAIRS_MAX, CRYPTO_CONTEXT_MAX);
		else if (r < 0)
			ct_fail_errno(err, r, "wrapping a data key");
	}
	pthread_mutex_unlock(&kr->lock);
	if (r < 0)
		crypto_wipe(plaintext, CRYPTO_KEY_LEN);
	return r;
}

int keyring_decrypt(struct keyring *kr, const uint8_t *blob, size_t len,
		    const struct crypto_context_pair *ctx, size_t n,
		    uint8_t plaintext[CRYPTO_KEY_LEN], char key_arn_out[KEYRING_ARN_MAX],
		    struct ct_err *err)
{
	crypto_wipe(plaintext, CRYPTO_KEY_LEN);
	if (key_arn_out)
		key_arn_out[0] = '\0';
	char id[CRYPTO_KEY_ID_LEN + 1];
	if (crypto_wrapped_key_id(blob, len, id) < 0)
		return ct_fail(err, BAD_CIPHERTEXT, "The ciphertext is not a wrapped data key of "
			       "this key ring");
	pthread_mutex_lock(&kr->lock);
	struct kkey *k = find_id(kr, id);
	int r;
	if (!k) {
		char arn[KEYRING_ARN_MAX];
		key_arn(kr, id, arn);
		r = ct_fail(err, NOT_FOUND, "Key '%s' does not exist", arn);
	} else {
		if (key_arn_out)
			key_arn(kr, k->id, key_arn_out);
		r = usable(kr, k, err);
	}
	if (r == 0) {
		r = crypto_unwrap_key(k->material, blob, len, ctx, n, plaintext);
		if (r == -EBADMSG || r == -EINVAL)
			r = ct_fail(err, BAD_CIPHERTEXT, "The ciphertext or its encryption context "
				    "is invalid");
		else if (r < 0)
			ct_fail_errno(err, r, "unwrapping a data key");
	}
	pthread_mutex_unlock(&kr->lock);
	if (r < 0)
		crypto_wipe(plaintext, CRYPTO_KEY_LEN);
	return r;
}
