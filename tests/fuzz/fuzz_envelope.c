/* Fuzz harness for backend/envelope.c's metadata parsing: the input is
 * lines "name=value" (the object's user metadata, up to STORE_META_MAX),
 * then an empty line, then the object's bytes.
 *
 * envelope_parse must accept only a complete V2 envelope (a well-formed
 * key id and IV, a matdesc with aws:x-amz-cek-alg), and opening must fail
 * cleanly and wipe the buffer (the fuzz ring never made the data key).
 * The metadata values also serve as an encryption context: envelope_matdesc
 * of it must parse back as JSON to the same pairs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyring *ring;
static char ring_dir[64];

/* The replay runs the corpus in one process: remove the state directory at exit. */
static void remove_dir(void)
{
	keyring_close(ring);
	ring = NULL;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", ring_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", ring_dir);
}

static void matdesc_round_trip(const struct store_object_info *info)
{
	struct crypto_context_pair ctx[STORE_META_MAX];
	size_t n = 0;
	for (size_t i = 0; i < info->n_meta; i++)
		if (strcmp(info->meta[i].name, ENVELOPE_CTX_CEK_ALG))
			ctx[n++] = (struct crypto_context_pair){info->meta[i].name, info->meta[i].value};
	struct buf md;
	buf_init(&md, 1 << 16);
	if (envelope_matdesc(ctx, n, &md) == 0) {
		json *j = json_parse(md.data, md.len, NULL);
		if (!json_is_object(j) || json_size(j) != n + 1)
			abort();
		for (size_t i = 0; i < n; i++) {
			const char *v = json_string(json_get(j, ctx[i].key));
			if (!v || strcmp(v, ctx[i].value))
				abort();
		}
		for (const char *c = md.data; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				abort();
		json_free(j);
	}
	buf_release(&md);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ring) {
		snprintf(ring_dir, sizeof ring_dir, "/tmp/trailfs-fuzz-env-XXXXXX");
		if (!mkdtemp(ring_dir))
			abort();
		atexit(remove_dir);
		struct ct_err err;
		ring = keyring_open(ring_dir, "123456789012", "us-east-1", &err);
		if (!ring || keyring_create_key(ring, NULL, 0, 0, NULL, &err) < 0)
			abort();
	}
	struct store_object_info info = {0};
	size_t off = 0;
	while (off < size && info.n_meta < STORE_META_MAX) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t end = nl ? (size_t)(nl - data) : size;
		if (end == off) {
			off++;
			break;
		}
		const uint8_t *eq = memchr(data + off, '=', end - off);
		if (eq) {
			size_t nlen = (size_t)(eq - (data + off)), vlen = end - off - nlen - 1;
			char *name = strndup((const char *)data + off, nlen);
			char *value = strndup((const char *)data + off + nlen + 1, vlen);
			info.meta[info.n_meta].name = name;
			info.meta[info.n_meta].value = value;
			info.n_meta++;
		}
		off = end + 1;
	}
	size_t len = off < size ? size - off : 0;
	uint8_t *obj = malloc(len + 1);
	memcpy(obj, data + off, len);

	struct envelope_header h;
	struct ct_err err;
	int r = envelope_parse(&info, &h, &err);
	if (r == 0) {
		if (!crypto_uuid_ok(h.key_id) || h.wrapped_len != CRYPTO_WRAPPED_LEN ||
		    !envelope_context_get(&h, ENVELOPE_CTX_CEK_ALG))
			abort();
		size_t plain;
		r = envelope_open_inplace(ring, &h, obj, len, &plain, NULL, &err);
		if (r == 0)
			abort();   /* no blob from outside can carry this ring's tag */
		for (size_t i = 0; i < len; i++)
			if (obj[i])
				abort();
		envelope_header_release(&h);
	} else if (r != -ENODATA && (r != -EINVAL || strcmp(err.name, "InvalidEnvelope"))) {
		abort();
	}
	matdesc_round_trip(&info);
	free(obj);
	store_object_info_release(&info);
	return 0;
}
