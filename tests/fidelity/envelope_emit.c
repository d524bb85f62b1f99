/* Emits one log file sealed by backend/envelope.c for the independent
 * decryptor in envelope_fidelity.py: OUT/object.bin (what the store holds),
 * OUT/metadata.json (the object's user metadata, names as store.h keeps
 * them), OUT/datakey.bin (the data key, unwrapped through the ring),
 * OUT/plaintext.bin, and the ring itself in OUT/ring (keyring.h's layout),
 * so the decryptor can also unwrap the data key from the documented
 * wrapped-key format.  Usage: envelope_emit OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "fileio.h"
#include "json.h"

#define TRAIL "arn:aws:cloudtrail:us-east-1:123456789012:trail/audit"

static int put(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return write_file_durable(path, p, n, 0600);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: envelope_emit OUT\n");
		return 2;
	}
	char ring[4096];
	snprintf(ring, sizeof ring, "%s/ring", argv[1]);
	struct ct_err err;
	struct keyring *kr = keyring_open(ring, "123456789012", "us-east-1", &err);
	struct keyring_key_info info;
	if (!kr || keyring_create_key(kr, NULL, 0, 1780000000, &info, &err) < 0 ||
	    keyring_create_alias(kr, "alias/audit", info.key_id, &err) < 0) {
		fprintf(stderr, "key ring: %s\n", err.message);
		return 1;
	}
	/* A log-like text with a marker, then every byte value, so nothing
	 * depends on the content being text. */
	struct buf pt;
	buf_init(&pt, 1 << 22);
	for (int i = 0; i < 2000; i++)
		buf_printf(&pt, "{\"eventName\":\"GetObject\",\"marker\":\"FIDELITY-MARKER-%d\"},", i);
	for (int i = 0; i < 256 * 4; i++)
		buf_putc(&pt, (char)(i & 0xff));
	struct crypto_context_pair ctx[] = {{"aws:cloudtrail:arn", TRAIL}};
	struct buf obj;
	buf_init(&obj, 1 << 22);
	struct store_object_info meta = {0};
	if (envelope_seal(kr, "alias/audit", ctx, 1, pt.data, pt.len, &obj, &meta, NULL, &err) < 0) {
		fprintf(stderr, "seal: %s\n", err.message);
		return 1;
	}
	struct envelope_header h;
	uint8_t dk[CRYPTO_KEY_LEN];
	if (envelope_parse(&meta, &h, &err) < 0 ||
	    keyring_decrypt(kr, h.wrapped, h.wrapped_len, h.context, h.n_context, dk, NULL, &err) < 0) {
		fprintf(stderr, "unwrap: %s\n", err.message);
		return 1;
	}
	json *m = json_new_object();
	for (size_t i = 0; i < meta.n_meta; i++)
		json_add_string(m, meta.meta[i].name, meta.meta[i].value);
	char *mtext = json_print(m, true);
	int r = put(argv[1], "object.bin", obj.data, obj.len);
	r |= put(argv[1], "metadata.json", mtext, strlen(mtext));
	r |= put(argv[1], "datakey.bin", dk, sizeof dk);
	r |= put(argv[1], "plaintext.bin", pt.data, pt.len);
	free(mtext);
	json_free(m);
	crypto_wipe(dk, sizeof dk);
	envelope_header_release(&h);
	store_object_info_release(&meta);
	buf_release(&obj);
	buf_release(&pt);
	keyring_close(kr);
	return r ? 1 : 0;
}
