#include "gz.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <zlib.h>

#define GZ_LEVEL_MIN     1
#define GZ_LEVEL_MAX     12
/* Header (10 bytes) and trailer (CRC32 and ISIZE, 8 bytes) of the smallest
 * member; the empty deflate stream inside it takes 2 more. */
#define GZ_HEADER_LEN    10
#define GZ_TRAILER_LEN   8
#define GZ_MEMBER_MIN    (GZ_HEADER_LEN + 2 + GZ_TRAILER_LEN)
/* Deflate cannot expand by more than about 1032:1 (a 258-byte match in
 * two bits), so a member of len bytes inflates to less than this many
 * times len.  It bounds how far a lying ISIZE can make us allocate. */
#define GZ_RATIO_MAX     1032
/* First output buffer when ISIZE says the content is empty or tiny. */
#define GZ_GUESS_MIN     4096

/* libdeflate's compressor is the whole of ours. */
struct gz_compressor *gz_compressor_new(int level)
{
	if (level < GZ_LEVEL_MIN || level > GZ_LEVEL_MAX)
		return NULL;
	return (struct gz_compressor *)libdeflate_alloc_compressor(level);
}

void gz_compressor_free(struct gz_compressor *c)
{
	libdeflate_free_compressor((struct libdeflate_compressor *)c);
}

size_t gz_compress_bound(struct gz_compressor *c, size_t len)
{
	return libdeflate_gzip_compress_bound((struct libdeflate_compressor *)c, len);
}

size_t gz_compress_to(struct gz_compressor *c, const void *data, size_t len, void *out,
		      size_t cap)
{
	return libdeflate_gzip_compress((struct libdeflate_compressor *)c, data, len, out, cap);
}

int gz_compress(const void *data, size_t len, int level, struct buf *out)
{
	if (level < GZ_LEVEL_MIN || level > GZ_LEVEL_MAX)
		return -EINVAL;
	/* A compressor per call: at level 6 it is a few hundred kilobytes of
	 * tables, whose allocation is small beside compressing a log file,
	 * and it keeps this module free of shared state. */
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	if (!c)
		return -ENOMEM;
	/* Compress into a buffer of the full bound even near out's cap:
	 * libdeflate may give up on a buffer that the output would exactly
	 * fill, and buf_add below then refuses precisely what does not fit. */
	size_t bound = libdeflate_gzip_compress_bound(c, len);
	void *tmp = malloc(bound);   /* never 0: header and trailer count */
	if (!tmp) {
		libdeflate_free_compressor(c);
		return -ENOMEM;
	}
	size_t n = libdeflate_gzip_compress(c, data, len, tmp, bound);
	/* Within the bound libdeflate cannot fail; 0 would be its bug. */
	int r = n ? buf_add(out, tmp, n) : -EIO;
	free(tmp);
	libdeflate_free_compressor(c);
	return r;
}

long long gz_declared_size(const void *data, size_t len)
{
	if (len < GZ_MEMBER_MIN)
		return -EINVAL;
	const unsigned char *p = (const unsigned char *)data + len - 4;
	return (long long)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			   (uint32_t)p[3] << 24);
}

/* How large a first output buffer to try, limited to limit bytes: ISIZE
 * when it is believable, since it is only a hint (it is the size mod 2^32,
 * and nothing stops a file from lying in it). */
static size_t first_guess(const void *data, size_t len, size_t limit)
{
	long long declared = gz_declared_size(data, len);
	size_t guess = declared > 0 ? (size_t)declared : 0;
	if (len <= SIZE_MAX / GZ_RATIO_MAX && guess > len * GZ_RATIO_MAX)
		guess = len * GZ_RATIO_MAX;
	if (guess < GZ_GUESS_MIN)
		guess = GZ_GUESS_MIN;
	return guess < limit ? guess : limit;
}

int gz_decompress(const void *data, size_t len, size_t max, struct buf *out)
{
	if (len < GZ_MEMBER_MIN)
		return -EINVAL;
	/* What may be appended: max, and no more than out can still take. */
	size_t room = out->len < out->max ? out->max - out->len : 0;
	size_t limit = max < room ? max : room;

	struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
	if (!d)
		return -ENOMEM;
	size_t avail = first_guess(data, len, limit);
	unsigned char *tmp = NULL;
	int r;
	for (;;) {
		unsigned char *p = realloc(tmp, avail ? avail : 1);
		if (!p) {
			r = -ENOMEM;
			break;
		}
		tmp = p;
		size_t in_used = 0, out_len = 0;
		enum libdeflate_result res = libdeflate_gzip_decompress_ex(d, data, len, tmp, avail,
									     &in_used, &out_len);
		if (res == LIBDEFLATE_INSUFFICIENT_SPACE) {
			if (avail >= limit) {
				r = -E2BIG;
				break;
			}
			/* ISIZE understated the content: past 4 GiB it wraps,
			 * and a lying one fails libdeflate's ISIZE check once
			 * the content is out.  Grow geometrically up to the
			 * limit, so either costs only a few passes. */
			avail = avail > limit / 2 ? limit : avail * 2;
			continue;
		}
		/* BAD_DATA covers a bad header, a corrupt stream and a CRC32
		 * or ISIZE mismatch; libdeflate checks both.  Anything after
		 * the member (a second member, trailing bytes) is refused:
		 * validate-logs reads only the first member, so what follows
		 * would be invisible to it. */
		if (res != LIBDEFLATE_SUCCESS || in_used != len) {
			r = -EINVAL;
			break;
		}
		r = buf_add(out, tmp, out_len);
		break;
	}
	free(tmp);
	libdeflate_free_decompressor(d);
	return r;
}

/* ---- zlib's reading of a gzip stream (validate-logs's) ---- */


#define GZ_ZLIB_WINDOW   (MAX_WBITS | 16)   /* gzip framing only, as the CLI asks */
#define GZ_ZLIB_OUT      65536              /* output chunk handed to the sink */
#define GZ_ZLIB_IN_MAX   (1u << 30)         /* input fed per call (uInt is 32 bits) */

int gz_inflate_first_member(const void *data, size_t len, gz_sink_fn sink, void *arg,
			    struct gz_stream_info *info)
{
	struct gz_stream_info local = { 0 };
	if (!info)
		info = &local;
	memset(info, 0, sizeof *info);
	if (len == 0)
		return 0;
	z_stream z;
	memset(&z, 0, sizeof z);
	int zr = inflateInit2(&z, GZ_ZLIB_WINDOW);
	if (zr != Z_OK)
		return zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	unsigned char *out = malloc(GZ_ZLIB_OUT);
	if (!out) {
		inflateEnd(&z);
		return -ENOMEM;
	}
	const unsigned char *in = data;
	size_t left = len;
	int r = 0;
	for (;;) {
		if (z.avail_in == 0 && left) {
			uInt n = left > GZ_ZLIB_IN_MAX ? GZ_ZLIB_IN_MAX : (uInt)left;
			z.next_in = (unsigned char *)in;
			z.avail_in = n;
			in += n;
			left -= n;
		}
		z.next_out = out;
		z.avail_out = GZ_ZLIB_OUT;
		zr = inflate(&z, Z_SYNC_FLUSH);
		size_t produced = GZ_ZLIB_OUT - z.avail_out;
		if (produced && (zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR)) {
			info->out_len += produced;
			if (sink && (r = sink(arg, out, produced)) < 0)
				break;
		}
		if (zr == Z_STREAM_END) {
			info->complete = 1;
			info->trailing = z.avail_in + left;
			break;
		}
		if (zr == Z_MEM_ERROR) {
			r = -ENOMEM;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			r = -EINVAL;   /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
			break;
		}
		/* No progress possible: the input is used up (a truncated
		 * member, which zlib does not call an error here). */
		if (z.avail_in == 0 && left == 0 && z.avail_out != 0)
			break;
	}
	free(out);
	inflateEnd(&z);
	return r;
}
