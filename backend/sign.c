/* The digest-signing key ring and SHA256withRSA (see sign.h). */
#include "sign.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "ct_limits.h"
#include "fileio.h"
#include "json.h"
#include "validate.h"

#define STATE_ERR     "InvalidStateFile"
#define INDEX_NAME    "index.json"
#define INDEX_MAX     (1024u * 1024)   /* SIGN_KEYS_MAX entries fit with room to spare */
#define PATH_MAX_LEN  4096
#define PUB_EXT       ".pub"
#define KEY_EXT       ".key"
#define TMP_MARK      ".tmp."          /* write_file_durable's temporary files: NAME.tmp.PID */
_Static_assert(sizeof PUB_EXT == sizeof KEY_EXT, "ring_tidy takes both extensions as one length");
/* A 2048-bit PKCS#1 RSAPrivateKey DER is about 1,190 bytes and its public
 * key 270; these bound what is read back, generously. */
#define PRIVATE_DER_MAX 4096
#define PUBLIC_DER_MAX  1024
/* Signatures sign_verify accepts: up to an 8192-bit key's. */
#define VERIFY_SIG_MAX  1024
#define PEM_LINE_BYTES  48              /* 64 base64 characters per line, as PEM has it */
#define PEM_LABEL       "RSA PUBLIC KEY"

struct ring_key {
	char fp[SIGN_FINGERPRINT_LEN + 1];
	int64_t start;
	int64_t end;              /* 0 = current */
	unsigned char *der;       /* the public half, read once when the ring loads */
	size_t der_len;
};

/* One region's ring as its index says. */
struct ring {
	char region[CT_REGION_MAX + 1];
	char *dir;                /* DIR/REGION */
	char *index;              /* DIR/REGION/index.json */
	struct ring_key *keys;
	size_t n;
};

struct sign {
	pthread_mutex_t lock;     /* guards everything below and the files */
	char *dir;
	struct ring **rings;      /* regions loaded so far */
	size_t n_rings;
};

struct sign_key {
	EVP_PKEY *pkey;
	char fp[SIGN_FINGERPRINT_LEN + 1];
	int64_t start;
};

/* ---- small helpers ---- */

static void hex_lower(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A fingerprint as this module writes it: SIGN_FINGERPRINT_LEN lowercase hex
 * digits.  Fingerprints name files, so nothing else may pass. */
static bool fingerprint_ok(const char *s, size_t n)
{
	if (n != SIGN_FINGERPRINT_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Exactly one PKCS#1 RSAPublicKey, nothing after it.  d2i_PublicKey with
 * EVP_PKEY_RSA reads only PKCS#1, never SubjectPublicKeyInfo, which is
 * what validate-logs wants too. */
static EVP_PKEY *load_public(const unsigned char *der, size_t len)
{
	if (len == 0 || len > PUBLIC_DER_MAX)
		return NULL;
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	if (k && p != der + len) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	if (!k)
		ERR_clear_error();
	return k;
}

static int md5_hex(const unsigned char *p, size_t n, char out[SIGN_FINGERPRINT_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) || mdlen * 2 != SIGN_FINGERPRINT_LEN) {
		ERR_clear_error();
		return -ENOMEM;
	}
	hex_lower(md, mdlen, out);
	return 0;
}

/* The PKCS#1 public DER of a key (OPENSSL_free it) and its length, or NULL. */
static unsigned char *public_der(EVP_PKEY *k, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PublicKey(k, &der);
	if (n <= 0) {
		ERR_clear_error();
		return NULL;
	}
	*len = (size_t)n;
	return der;
}

static int key_fingerprint(EVP_PKEY *k, char out[SIGN_FINGERPRINT_LEN + 1])
{
	size_t len;
	unsigned char *der = public_der(k, &len);
	if (!der)
		return -ENOMEM;
	int r = md5_hex(der, len, out);
	OPENSSL_free(der);
	return r;
}

static char *ring_path(const struct ring *g, const char *fp, const char *ext)
{
	struct buf p;
	buf_init(&p, PATH_MAX_LEN);
	if (buf_printf(&p, "%s/%s%s", g->dir, fp, ext) < 0) {
		buf_release(&p);
		return NULL;
	}
	return buf_take(&p);
}

/* Read a small file into p[0..cap) without growing a buffer: a private key
 * read through struct buf would leave copies in the blocks realloc frees,
 * where nothing could wipe them.  0 and *len, -E2BIG when larger, -errno. */
static int read_small(const char *path, unsigned char *p, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t n = 0;
	int r = 0;
	for (;;) {
		if (n == cap) {
			/* Full: one more byte means the file is too large. */
			char extra;
			ssize_t e = read(fd, &extra, 1);
			if (e < 0 && errno == EINTR)
				continue;
			r = e < 0 ? -errno : e > 0 ? -E2BIG : 0;
			break;
		}
		ssize_t k = read(fd, p + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	*len = n;
	return r;
}

/* A time in the index: a whole number of seconds, 0 or more. */
static bool json_time(const json *j, int64_t *out)
{
	if (!json_is_number(j))
		return false;
	double v = json_number(j);
	/* In range first, so the cast below is defined; a cast that changes
	 * the value means a fraction (and needs no libm). */
	if (!(v >= 0 && v <= (double)SIGN_TIME_MAX) || (double)(int64_t)v != v)
		return false;
	*out = (int64_t)v;
	return true;
}

/* ---- the index ---- */

static void ring_free(struct ring *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		free(g->keys[i].der);
	free(g->dir);
	free(g->index);
	free(g->keys);
	free(g);
}

static int damaged(struct ct_err *err, const char *path, const char *what)
{
	return ct_fail(err, STATE_ERR, "%s: damaged: %s", path, what);
}

static int parse_index(struct ring *g, const char *text, size_t len, struct ct_err *err)
{
	size_t off = 0;
	json *doc = json_parse(text, len, &off);
	if (!doc)
		return ct_fail(err, STATE_ERR, "%s: damaged: not valid JSON (at byte %zu)", g->index,
			       off);
	int r = 0;
	json *format = json_get(doc, "format"), *keys = json_get(doc, "keys");
	if (!json_is_number(format) || json_number(format) > SIGN_FORMAT) {
		r = ct_fail(err, STATE_ERR, "%s: format is missing or newer than %d", g->index,
			    SIGN_FORMAT);
		goto out;
	}
	if (json_number(format) != SIGN_FORMAT) {
		r = ct_fail(err, STATE_ERR, "%s: damaged: unknown format %g", g->index,
			    json_number(format));
		goto out;
	}
	if (!json_is_array(keys) || json_size(keys) > SIGN_KEYS_MAX) {
		r = ct_fail(err, STATE_ERR, "%s: damaged: \"keys\" is not an array of at most %d keys",
			    g->index, SIGN_KEYS_MAX);
		goto out;
	}
	size_t n = json_size(keys);
	g->keys = calloc(n ? n : 1, sizeof *g->keys);
	if (!g->keys) {
		r = ct_fail_errno(err, ENOMEM, g->index);
		goto out;
	}
	for (json *e = json_first(keys); e; e = json_next(e)) {
		struct ring_key *k = &g->keys[g->n];
		const char *fp = json_string(json_get(e, "Fingerprint"));
		if (!fp || !fingerprint_ok(fp, strlen(fp)) ||
		    !json_time(json_get(e, "ValidityStartTime"), &k->start) ||
		    !json_time(json_get(e, "ValidityEndTime"), &k->end)) {
			r = damaged(err, g->index, "a key's Fingerprint or validity times");
			goto out;
		}
		memcpy(k->fp, fp, SIGN_FINGERPRINT_LEN + 1);
		/* Keys are appended as they are made: only the last can be
		 * current, windows never end before they start, and each key
		 * starts no earlier than the one before it. */
		bool last = g->n + 1 == n;
		if ((k->end == 0 && !last) || (k->end != 0 && k->end < k->start) ||
		    (g->n > 0 && k->start < g->keys[g->n - 1].start)) {
			r = damaged(err, g->index, "validity windows out of order");
			goto out;
		}
		for (size_t i = 0; i < g->n; i++)
			if (!strcmp(g->keys[i].fp, k->fp)) {
				r = damaged(err, g->index, "a fingerprint listed twice");
				goto out;
			}
		g->n++;
	}
out:
	json_free(doc);
	return r;
}

static int save_index(const struct ring *g, struct ct_err *err)
{
	json *doc = json_new_object(), *keys = json_new_array();
	int r = (doc && keys) ? json_add_number(doc, "format", SIGN_FORMAT) : -ENOMEM;
	for (size_t i = 0; r == 0 && i < g->n; i++) {
		json *k = json_new_object();
		r = k ? json_add_string(k, "Fingerprint", g->keys[i].fp) : -ENOMEM;
		if (r == 0)
			r = json_add_number(k, "ValidityStartTime", (double)g->keys[i].start);
		if (r == 0)
			r = json_add_number(k, "ValidityEndTime", (double)g->keys[i].end);
		if (r == 0)
			r = json_append(keys, k);
		else
			json_free(k);
	}
	if (r == 0) {
		r = json_add(doc, "keys", keys);
		keys = NULL;
	}
	char *text = r == 0 ? json_print(doc, false) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0)
		r = write_file_durable(g->index, text, strlen(text), 0600);
	free(text);
	json_free(keys);
	json_free(doc);
	return r < 0 ? ct_fail_errno(err, r, g->index) : 0;
}

/* Remove what a crash can leave in a ring's directory: temporary files of
 * durable writes, key files of a key made but never entered in the index,
 * and the private half of a key retired just before the crash.  What stays
 * is the index, each listed key's public half and the current key's
 * private half.  Names that are not this module's are left alone. */
static void ring_tidy(const struct ring *g)
{
	DIR *d = opendir(g->dir);
	if (!d)
		return;
	const char *current = g->n && g->keys[g->n - 1].end == 0 ? g->keys[g->n - 1].fp : NULL;
	bool removed = false;
	for (struct dirent *e; (e = readdir(d));) {
		const char *name = e->d_name;
		bool remove = false;
		if (!strncmp(name, INDEX_NAME TMP_MARK, strlen(INDEX_NAME TMP_MARK))) {
			remove = true;
		} else if (strlen(name) > SIGN_FINGERPRINT_LEN &&
			   fingerprint_ok(name, SIGN_FINGERPRINT_LEN)) {
			const char *ext = name + SIGN_FINGERPRINT_LEN;
			bool is_pub = !strncmp(ext, PUB_EXT, strlen(PUB_EXT));
			bool is_key = !strncmp(ext, KEY_EXT, strlen(KEY_EXT));
			if (!is_pub && !is_key)
				continue;
			const char *rest = ext + strlen(PUB_EXT);
			if (*rest) {
				remove = !strncmp(rest, TMP_MARK, strlen(TMP_MARK));
			} else if (is_key) {
				remove = !current || strncmp(name, current, SIGN_FINGERPRINT_LEN);
			} else {
				remove = true;
				for (size_t i = 0; i < g->n && remove; i++)
					remove = strncmp(name, g->keys[i].fp, SIGN_FINGERPRINT_LEN) != 0;
			}
		}
		if (remove && unlinkat(dirfd(d), name, 0) == 0)
			removed = true;
	}
	closedir(d);
	if (removed)
		fsync_dir(g->dir);
}

/* Read each listed key's public half, checked against its name, so that
 * listing needs no disk. */
static int ring_load_public(struct ring *g, struct ct_err *err)
{
	for (size_t i = 0; i < g->n; i++) {
		struct ring_key *k = &g->keys[i];
		char *path = ring_path(g, k->fp, PUB_EXT);
		if (!path)
			return ct_fail_errno(err, ENAMETOOLONG, g->dir);
		unsigned char der[PUBLIC_DER_MAX];
		size_t len = 0;
		char fp[SIGN_FINGERPRINT_LEN + 1] = "";
		int r = read_small(path, der, sizeof der, &len);
		if (r < 0) {
			r = ct_fail(err, STATE_ERR, "%s: cannot read: %s", path, strerror(-r));
		} else if (sign_fingerprint(der, len, fp) < 0 || strcmp(fp, k->fp)) {
			r = damaged(err, path, "not the PKCS#1 public key its name says");
		} else {
			k->der = malloc(len);
			if (!k->der)
				r = ct_fail_errno(err, ENOMEM, path);
			else
				memcpy(k->der, der, len);
			k->der_len = len;
		}
		free(path);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The ring of region, loaded (and cached) on first use.  Called locked. */
static int ring_get(struct sign *s, const char *region, struct ring **out, struct ct_err *err)
{
	/* The region names a directory: only a well-formed name may. */
	if (!region || !region_name_valid(region))
		return ct_fail(err, "InvalidParameterValueException",
			       "signing keys: not a region name: \"%.*s\"", CT_REGION_MAX,
			       region ? region : "");
	for (size_t i = 0; i < s->n_rings; i++)
		if (!strcmp(s->rings[i]->region, region)) {
			*out = s->rings[i];
			return 0;
		}
	struct ring **grown = realloc(s->rings, (s->n_rings + 1) * sizeof *grown);
	if (!grown)
		return ct_fail_errno(err, ENOMEM, "signing keys");
	s->rings = grown;
	struct ring *g = calloc(1, sizeof *g);
	struct buf dir, index;
	buf_init(&dir, PATH_MAX_LEN);
	buf_init(&index, PATH_MAX_LEN);
	int r = g ? buf_printf(&dir, "%s/%s", s->dir, region) : -ENOMEM;
	if (r == 0)
		r = buf_printf(&index, "%s/%s/" INDEX_NAME, s->dir, region);
	if (r < 0) {
		buf_release(&dir);
		buf_release(&index);
		ring_free(g);
		return ct_fail_errno(err, r == -E2BIG ? ENAMETOOLONG : -r, s->dir);
	}
	snprintf(g->region, sizeof g->region, "%s", region);
	g->dir = buf_take(&dir);
	g->index = buf_take(&index);

	struct buf text;
	buf_init(&text, INDEX_MAX);
	r = read_file(g->index, &text);
	if (r == 0)
		r = parse_index(g, text.data ? text.data : "", text.len, err);
	else if (r == -ENOENT)
		r = 0;   /* a region never used: no keys yet */
	else
		r = ct_fail(err, STATE_ERR, "%s: cannot read: %s", g->index, strerror(-r));
	buf_release(&text);
	if (r == 0)
		r = ring_load_public(g, err);
	if (r < 0) {
		ring_free(g);
		return r;
	}
	ring_tidy(g);
	s->rings[s->n_rings++] = g;
	*out = g;
	return 0;
}

/* ---- keys ---- */

/* Make a key pair and store both halves (the index is not touched); k gets
 * the fingerprint and the public DER (malloc'd). */
/* A new RSA key pair, made without any lock held: generation takes from
 * tens of milliseconds to a second on a busy machine, and signing with the
 * keys already made must not wait for it.  NULL with err on failure. */
static EVP_PKEY *generate(struct ct_err *err)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)SIGN_KEY_BITS);
	if (!pkey) {
		ERR_clear_error();
		ct_fail_errno(err, ENOMEM, "signing keys: RSA key generation");
	}
	return pkey;
}

/* Store the generated pkey (taken, freed here) as ring key k. */
static int make_key(const struct ring *g, EVP_PKEY *pkey, struct ring_key *k, struct ct_err *err)
{
	int r = mkdir_p(g->dir, 0700);
	if (r < 0) {
		EVP_PKEY_free(pkey);
		return ct_fail_errno(err, r, g->dir);
	}
	size_t pub_len = 0;
	unsigned char *pub = public_der(pkey, &pub_len);
	unsigned char *priv = NULL;
	int priv_len = i2d_PrivateKey(pkey, &priv);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	char *pub_path = NULL, *key_path = NULL;
	r = (pub && priv_len > 0) ? md5_hex(pub, pub_len, k->fp) : -ENOMEM;
	if (r < 0) {
		r = ct_fail_errno(err, r, "signing keys: encoding a new key");
		goto out;
	}
	pub_path = ring_path(g, k->fp, PUB_EXT);
	key_path = ring_path(g, k->fp, KEY_EXT);
	if (!pub_path || !key_path) {
		r = ct_fail_errno(err, ENAMETOOLONG, g->dir);
		goto out;
	}
	/* The private half first: a public key on disk without its private
	 * half would be a key nothing can sign with. */
	r = write_file_durable(key_path, priv, (size_t)priv_len, 0600);
	if (r < 0) {
		r = ct_fail_errno(err, r, key_path);
		goto out;
	}
	r = write_file_durable(pub_path, pub, pub_len, 0644);
	if (r < 0) {
		unlink(key_path);
		r = ct_fail_errno(err, r, pub_path);
		goto out;
	}
	k->der = malloc(pub_len);
	if (!k->der) {
		unlink(key_path);
		unlink(pub_path);
		r = ct_fail_errno(err, ENOMEM, "signing keys");
		goto out;
	}
	memcpy(k->der, pub, pub_len);
	k->der_len = pub_len;
out:
	if (priv)
		OPENSSL_clear_free(priv, (size_t)priv_len);
	OPENSSL_free(pub);
	free(pub_path);
	free(key_path);
	return r;
}

static void remove_key_files(const struct ring *g, const char *fp, bool public_too)
{
	char *p = ring_path(g, fp, KEY_EXT);
	if (p)
		unlink(p);
	free(p);
	if (public_too) {
		p = ring_path(g, fp, PUB_EXT);
		if (p)
			unlink(p);
		free(p);
	}
	fsync_dir(g->dir);
}

/* Make a key valid from now, enter it in the index as the current key
 * (closing the window of the key that was current, if any, at now) and
 * save the index.  On failure the ring and its files are as before. */
static int ring_new_key(struct ring *g, int64_t now, EVP_PKEY *pkey, struct ct_err *err)
{
	if (g->n >= SIGN_KEYS_MAX) {
		EVP_PKEY_free(pkey);
		return ct_fail(err, "MaximumNumberOfKeysExceeded",
			       "signing keys for %s: the ring holds %d keys, no more", g->region,
			       SIGN_KEYS_MAX);
	}
	struct ring_key *grown = realloc(g->keys, (g->n + 1) * sizeof *grown);
	if (!grown) {
		EVP_PKEY_free(pkey);
		return ct_fail_errno(err, ENOMEM, g->index);
	}
	g->keys = grown;
	/* Windows are kept in the order keys were made (parse_index insists),
	 * and one that ends before it begins would be nonsense. */
	if (g->n && now < g->keys[g->n - 1].start) {
		EVP_PKEY_free(pkey);
		return ct_fail(err, "InvalidTimeRangeException",
			       "signing keys for %s: cannot start a key at %lld, before the latest "
			       "key's start %lld", g->region, (long long)now,
			       (long long)g->keys[g->n - 1].start);
	}
	struct ring_key *k = &g->keys[g->n];
	memset(k, 0, sizeof *k);
	int r = make_key(g, pkey, k, err);
	if (r < 0)
		return r;
	k->start = now;
	k->end = 0;
	struct ring_key *prev = g->n && g->keys[g->n - 1].end == 0 ? &g->keys[g->n - 1] : NULL;
	if (prev)
		prev->end = now;
	g->n++;
	r = save_index(g, err);
	if (r < 0) {
		g->n--;
		if (prev)
			prev->end = 0;
		remove_key_files(g, k->fp, true);
		free(k->der);
		return r;
	}
	/* The index no longer names the old key current, so nothing will
	 * sign with it again: its private half goes (ring_tidy finishes this
	 * at the next load if a crash comes first). */
	if (prev)
		remove_key_files(g, prev->fp, false);
	return 0;
}

/* The private key of ring key rk, checked against its fingerprint. */
static int load_private(const struct ring *g, const struct ring_key *rk, struct sign_key **out,
			struct ct_err *err)
{
	char *path = ring_path(g, rk->fp, KEY_EXT);
	if (!path)
		return ct_fail_errno(err, ENAMETOOLONG, g->dir);
	unsigned char der[PRIVATE_DER_MAX];
	size_t len = 0;
	int r = read_small(path, der, sizeof der, &len);
	EVP_PKEY *k = NULL;
	if (r == 0) {
		const unsigned char *p = der;
		k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)len);
		if (k && p != der + len) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	OPENSSL_cleanse(der, sizeof der);
	ERR_clear_error();
	char fp[SIGN_FINGERPRINT_LEN + 1] = "";
	if (r == -ENOENT) {
		r = ct_fail(err, STATE_ERR, "%s: the current signing key's private half is missing",
			    path);
	} else if (r < 0) {
		r = ct_fail(err, STATE_ERR, "%s: cannot read: %s", path, strerror(-r));
	} else if (!k || EVP_PKEY_get_bits(k) != SIGN_KEY_BITS) {
		r = damaged(err, path, "not an RSA-2048 private key");
	} else {
		r = key_fingerprint(k, fp);
		if (r < 0)
			r = ct_fail_errno(err, r, path);
		else if (strcmp(fp, rk->fp))
			r = damaged(err, path,
				    "its public key does not have the fingerprint it is filed under");
	}
	free(path);
	struct sign_key *sk = r == 0 ? calloc(1, sizeof *sk) : NULL;
	if (r == 0 && !sk)
		r = ct_fail_errno(err, ENOMEM, "signing keys");
	if (r < 0) {
		EVP_PKEY_free(k);
		return r;
	}
	sk->pkey = k;
	memcpy(sk->fp, rk->fp, sizeof sk->fp);
	sk->start = rk->start;
	*out = sk;
	return 0;
}

/* ---- the API ---- */

struct sign *sign_open(const char *dir, struct ct_err *err)
{
	int r = mkdir_p(dir, 0700);
	if (r < 0) {
		ct_fail_errno(err, r, dir);
		return NULL;
	}
	struct sign *s = calloc(1, sizeof *s);
	if (s)
		s->dir = strdup(dir);
	if (!s || !s->dir) {
		free(s);
		ct_fail_errno(err, ENOMEM, dir);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

void sign_close(struct sign *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_rings; i++)
		ring_free(s->rings[i]);
	free(s->rings);
	free(s->dir);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int bad_time(struct ct_err *err, const char *region, int64_t t)
{
	return ct_fail(err, "InvalidTimeRangeException",
		       "signing keys for %s: %lld is not a time from 1970 to 9999", region,
		       (long long)t);
}

int sign_current(struct sign *s, const char *region, int64_t now, struct sign_key **out,
		 struct ct_err *err)
{
	*out = NULL;
	if (now < 0 || now > SIGN_TIME_MAX)
		return bad_time(err, region ? region : "", now);
	pthread_mutex_lock(&s->lock);
	struct ring *g = NULL;
	int r = ring_get(s, region, &g, err);
	if (r == 0 && (g->n == 0 || g->keys[g->n - 1].end != 0)) {
		/* Made unlocked; if another caller made one meanwhile, this one
		 * is not needed. */
		pthread_mutex_unlock(&s->lock);
		EVP_PKEY *pkey = generate(err);
		pthread_mutex_lock(&s->lock);
		if (!pkey)
			r = -ENOMEM;
		else if (g->n == 0 || g->keys[g->n - 1].end != 0)
			r = ring_new_key(g, now, pkey, err);
		else
			EVP_PKEY_free(pkey);
	}
	/* Read back from disk even when just made: what signs is what was
	 * stored, so a key that did not survive its write is found now. */
	if (r == 0)
		r = load_private(g, &g->keys[g->n - 1], out, err);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sign_has_current(struct sign *s, const char *region, bool *has, struct ct_err *err)
{
	*has = false;
	pthread_mutex_lock(&s->lock);
	struct ring *g = NULL;
	int r = ring_get(s, region, &g, err);
	if (r == 0)
		*has = g->n > 0 && g->keys[g->n - 1].end == 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}

int sign_rotate(struct sign *s, const char *region, int64_t now, struct ct_err *err)
{
	/* Closing a window at 0 would read back as "current". */
	if (now < 1 || now > SIGN_TIME_MAX)
		return bad_time(err, region ? region : "", now);
	if (!region || !region_name_valid(region))
		return ct_fail(err, "InvalidParameterValueException",
			       "signing keys: not a region name: \"%.*s\"", CT_REGION_MAX,
			       region ? region : "");
	EVP_PKEY *pkey = generate(err);
	if (!pkey)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	struct ring *g = NULL;
	int r = ring_get(s, region, &g, err);
	/* A window that ends as it begins is allowed (AWS's windows may even
	 * overlap); ring_new_key refuses one that would end before it begins. */
	if (r == 0)
		r = ring_new_key(g, now, pkey, err);
	else
		EVP_PKEY_free(pkey);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* PEM of a public DER under PEM_LABEL, 64 base64 characters a line. */
static char *pem_of(const unsigned char *der, size_t len)
{
	struct buf b;
	buf_init(&b, 4 * PUBLIC_DER_MAX);
	int r = buf_puts(&b, "-----BEGIN " PEM_LABEL "-----\n");
	for (size_t off = 0; r == 0 && off < len; off += PEM_LINE_BYTES) {
		unsigned char line[PEM_LINE_BYTES / 3 * 4 + 1];
		size_t n = len - off < PEM_LINE_BYTES ? len - off : PEM_LINE_BYTES;
		int k = EVP_EncodeBlock(line, der + off, (int)n);
		r = buf_add(&b, line, (size_t)k);
		if (r == 0)
			r = buf_putc(&b, '\n');
	}
	if (r == 0)
		r = buf_puts(&b, "-----END " PEM_LABEL "-----\n");
	if (r < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_take(&b);
}

int sign_list(struct sign *s, const char *region, struct sign_public_key **keys, size_t *n,
	      struct ct_err *err)
{
	*keys = NULL;
	*n = 0;
	pthread_mutex_lock(&s->lock);
	struct ring *g = NULL;
	int r = ring_get(s, region, &g, err);
	size_t count = r == 0 ? g->n : 0;
	struct sign_public_key *list = NULL;
	if (count) {
		list = calloc(count, sizeof *list);
		if (!list)
			r = ct_fail_errno(err, ENOMEM, "signing keys");
	}
	for (size_t i = 0; r == 0 && i < count; i++) {
		const struct ring_key *rk = &g->keys[i];
		struct sign_public_key *pk = &list[i];
		memcpy(pk->fingerprint, rk->fp, sizeof pk->fingerprint);
		pk->start = rk->start;
		pk->end = rk->end;
		pk->der = malloc(rk->der_len);
		pk->pem = pem_of(rk->der, rk->der_len);
		if (!pk->der || !pk->pem) {
			r = ct_fail_errno(err, ENOMEM, "signing keys");
			break;
		}
		memcpy(pk->der, rk->der, rk->der_len);
		pk->der_len = rk->der_len;
	}
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		sign_public_keys_free(list, count);
		return r;
	}
	*keys = list;
	*n = count;
	return 0;
}

void sign_public_keys_free(struct sign_public_key *keys, size_t n)
{
	if (!keys)
		return;
	for (size_t i = 0; i < n; i++) {
		free(keys[i].der);
		free(keys[i].pem);
	}
	free(keys);
}

const char *sign_key_fingerprint(const struct sign_key *k)
{
	return k->fp;
}

int64_t sign_key_start(const struct sign_key *k)
{
	return k->start;
}

void sign_key_free(struct sign_key *k)
{
	if (!k)
		return;
	/* EVP_PKEY_free clears the private numbers (OpenSSL frees an RSA
	 * key's d, p, q and CRT values with BN_clear_free). */
	EVP_PKEY_free(k->pkey);
	OPENSSL_cleanse(k, sizeof *k);
	free(k);
}

int sign_sign(const struct sign_key *k, const void *data, size_t len,
	      char out[SIGN_SIGNATURE_HEX_LEN + 1])
{
	unsigned char sig[SIGN_SIGNATURE_HEX_LEN / 2];
	size_t sig_len = sizeof sig;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* EVP_DigestSign with RSA pads with PKCS#1 v1.5 unless told otherwise:
	 * that is SHA256withRSA. */
	int ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		 EVP_DigestSign(ctx, sig, &sig_len, data, len) == 1 && sig_len == sizeof sig;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (!ok)
		return ctx ? -EIO : -ENOMEM;
	hex_lower(sig, sig_len, out);
	return 0;
}

int sign_verify(const unsigned char *der, size_t der_len, const void *data, size_t len,
		const char *signature_hex)
{
	EVP_PKEY *k = load_public(der, der_len);
	if (!k)
		return -EINVAL;
	unsigned char sig[VERIFY_SIG_MAX];
	size_t hex_len = signature_hex ? strlen(signature_hex) : 0;
	int r = 0;
	if (hex_len == 0 || hex_len % 2 || hex_len / 2 > sizeof sig)
		r = -EBADMSG;
	for (size_t i = 0; r == 0 && i < hex_len / 2; i++) {
		int hi = hex_value(signature_hex[2 * i]), lo = hex_value(signature_hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			r = -EBADMSG;
		else
			sig[i] = (unsigned char)(hi << 4 | lo);
	}
	if (r == 0) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		if (!ctx)
			r = -ENOMEM;
		else if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
			 EVP_DigestVerify(ctx, sig, hex_len / 2, data, len) != 1)
			r = -EBADMSG;
		EVP_MD_CTX_free(ctx);
	}
	EVP_PKEY_free(k);
	ERR_clear_error();
	return r;
}

int sign_data_to_sign(const char *end_time, const char *bucket, const char *key,
		      const char *body_sha256_hex, const char *previous_signature, struct buf *out)
{
	if (!end_time || !bucket || !key || !body_sha256_hex)
		return -EINVAL;
	/* "null" for a chain start: the CLI's words are that it matches the
	 * Java implementation, which formats a null reference so. */
	const char *prev = previous_signature ? previous_signature : "null";
	size_t total = strlen(end_time) + strlen(bucket) + strlen(key) + strlen(body_sha256_hex) +
		       strlen(prev) + 4;
	if (total > SIGN_DATA_MAX)
		return -E2BIG;
	return buf_printf(out, "%s\n%s/%s\n%s\n%s", end_time, bucket, key, body_sha256_hex, prev);
}

int sign_sha256_hex(const void *data, size_t len, char out[SIGN_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen * 2 != SIGN_SHA256_HEX_LEN) {
		ERR_clear_error();
		return -ENOMEM;
	}
	hex_lower(md, mdlen, out);
	return 0;
}

int sign_fingerprint(const unsigned char *der, size_t der_len, char out[SIGN_FINGERPRINT_LEN + 1])
{
	EVP_PKEY *k = load_public(der, der_len);
	if (!k)
		return -EINVAL;
	EVP_PKEY_free(k);
	/* The MD5 of the bytes as given, not of a re-encoding: AWS's
	 * fingerprints are of Value as sent. */
	return md5_hex(der, der_len, out);
}

/* ---- SHA-256 in parts ---- */

struct sign_sha256 {
	EVP_MD_CTX *ctx;
};

struct sign_sha256 *sign_sha256_new(void)
{
	struct sign_sha256 *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		sign_sha256_free(h);
		return NULL;
	}
	return h;
}

int sign_sha256_update(struct sign_sha256 *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

int sign_sha256_final_hex(struct sign_sha256 *h, char out[SIGN_SHA256_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1 || mdlen * 2 != SIGN_SHA256_HEX_LEN ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		return -ENOMEM;
	}
	hex_lower(md, mdlen, out);
	return 0;
}

void sign_sha256_free(struct sign_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
