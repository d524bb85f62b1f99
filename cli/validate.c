/* `trailfs validate`: see validate.h and the README's section.
 *
 * The output is the aws CLI's (validate-logs, aws-cli 1.45) line for line:
 * when one region is validated (--region, or a trail whose digests are in
 * one region) stdout, stderr and the exit code are exactly what the CLI
 * run with that --region prints.  With several regions the header and the
 * summary are printed once, each region's lines in turn (regions in byte
 * order), and the summary counts them all: the walkthrough's merged form. */
#include "validate.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fileio.h"
#include "json.h"
#include "store.h"

#define CONFIG_MAX     (1u << 20)
#define KEY_SOURCES_MAX 64

static const char usage_text[] =
"usage: trailfs validate MOUNTPOINT --trail NAME --start-time TIME [options]\n"
"       trailfs validate --store DIR --trail-arn ARN --s3-bucket BUCKET\n"
"                        (--public-keys [REGION=]PATH | --keys-dir DIR | --state DIR)\n"
"                        --start-time TIME [options]\n";

static const char help_text[] =
"\n"
"Validate a trail's log files and digest files between two times, as\n"
"`aws cloudtrail validate-logs` does, from a trailfs mount or straight from\n"
"a local object store directory, with no network.  The lines, the summary\n"
"and the exit code are the aws CLI's.\n"
"\n"
"Where the objects are:\n"
"  MOUNTPOINT             a trailfs mount: reads trails/NAME/config.json,\n"
"                         trails/NAME/digests/, trails/NAME/raw/ and\n"
"                         public-keys/REGION/\n"
"  --store DIR            a local object store: DIR/BUCKET/KEY are the\n"
"                         objects, DIR/.meta/BUCKET/objects/KEY.json their\n"
"                         metadata (trailfs's store).  A plain copy of a real\n"
"                         CloudTrail bucket works too: put the bucket at\n"
"                         DIR/BUCKET (e.g. aws s3 sync s3://BUCKET DIR/BUCKET),\n"
"                         and since a copy loses the digests' metadata, save\n"
"                         each digest's head-object output beside it as\n"
"                         KEY.head.json (aws s3api head-object --bucket BUCKET\n"
"                         --key KEY > DIR/BUCKET/KEY.head.json).\n"
"\n"
"Which trail:\n"
"  --trail NAME           the trail's name (mount)\n"
"  --trail-arn ARN        the trail's ARN (required with --store)\n"
"  --s3-bucket BUCKET     the bucket of its digests (required with --store)\n"
"  --s3-prefix PREFIX     its S3 key prefix (default none)\n"
"  --account-id ID        the account in the keys (default: from the ARN)\n"
"  --region REGION        validate only REGION's digests (as the CLI run with\n"
"                         --region); default: every region that has digests\n"
"                         (only the home region for a single-region trail)\n"
"\n"
"Public keys (default with a mount: MOUNTPOINT/public-keys/REGION/):\n"
"  --public-keys [REGION=]PATH\n"
"                         a PEM file, a directory of .pem files (keys without\n"
"                         validity windows), or a saved ListPublicKeys response\n"
"                         (aws cloudtrail list-public-keys output, times as\n"
"                         epoch numbers or ISO strings); with REGION= only for\n"
"                         that region.  In a directory, files named after a\n"
"                         region (us-east-1.json, eu-west-1.pem) serve only\n"
"                         that region, as ListPublicKeys would.  May be\n"
"                         repeated.\n"
"  --keys-dir DIR         a trailfs signing key ring (DIR/REGION/index.json)\n"
"  --state DIR            a trailfs state directory: its ring, DIR/signing-keys\n"
"\n"
"Times (ISO 8601, e.g. 2026-11-23T00:00:00Z; an offset is not converted,\n"
"as the aws CLI does not convert it):\n"
"  --start-time TIME      required\n"
"  --end-time TIME        default: now\n"
"\n"
"Output:\n"
"  --verbose              also print the valid files\n"
"  --strict-gzip          call a log file with data after its first gzip\n"
"                         member INVALID (\"unexpected data after end of\n"
"                         compressed stream\", as the newest aws CLI); by\n"
"                         default, as aws-cli 1.45, only the first member is\n"
"                         hashed\n"
"  --threads N            log files hashed on N threads (default: all cores)\n"
"  --no-progress          no progress line (drawn only when stderr is a terminal)\n"
"  -h, --help             this text\n"
"\n"
"Exit status: 0 all valid, 1 something INVALID, 255 an error that stopped\n"
"the run (as the aws CLI), 2 a usage error.\n";

struct key_source {
	char *region;     /* NULL: every region */
	const char *path;
};

struct opts {
	const char *mnt, *store, *trail, *arn, *bucket, *prefix, *account, *region;
	const char *start, *end, *keys_dir, *state;
	struct key_source keys[KEY_SOURCES_MAX];
	size_t n_keys;
	bool verbose, strict, no_progress, prefix_given;
	long threads;
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs(usage_text, stderr);
	fputs("trailfs validate: error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

/* The CLI's fatal form: a blank line, the message, exit 255. */
static int fatal(const char *fmt, const char *a, const char *b)
{
	fputc('\n', stderr);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return 255;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_STORE = 256, O_TRAIL, O_ARN, O_BUCKET, O_PREFIX, O_ACCOUNT, O_REGION, O_START, O_END,
	       O_KEYS, O_KEYS_DIR, O_STATE, O_VERBOSE, O_STRICT, O_THREADS, O_NO_PROGRESS };
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, O_STORE },
		{ "trail", required_argument, NULL, O_TRAIL },
		{ "trail-arn", required_argument, NULL, O_ARN },
		{ "s3-bucket", required_argument, NULL, O_BUCKET },
		{ "s3-prefix", required_argument, NULL, O_PREFIX },
		{ "account-id", required_argument, NULL, O_ACCOUNT },
		{ "region", required_argument, NULL, O_REGION },
		{ "start-time", required_argument, NULL, O_START },
		{ "end-time", required_argument, NULL, O_END },
		{ "public-keys", required_argument, NULL, O_KEYS },
		{ "keys-dir", required_argument, NULL, O_KEYS_DIR },
		{ "state", required_argument, NULL, O_STATE },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "strict-gzip", no_argument, NULL, O_STRICT },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	opterr = 0;
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "h", longopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return 1;
		case O_STORE: o->store = optarg; break;
		case O_TRAIL: o->trail = optarg; break;
		case O_ARN: o->arn = optarg; break;
		case O_BUCKET: o->bucket = optarg; break;
		case O_PREFIX: o->prefix = optarg; o->prefix_given = true; break;
		case O_ACCOUNT: o->account = optarg; break;
		case O_REGION: o->region = optarg; break;
		case O_START: o->start = optarg; break;
		case O_END: o->end = optarg; break;
		case O_KEYS_DIR: o->keys_dir = optarg; break;
		case O_STATE: o->state = optarg; break;
		case O_VERBOSE: o->verbose = true; break;
		case O_STRICT: o->strict = true; break;
		case O_NO_PROGRESS: o->no_progress = true; break;
		case O_THREADS: {
			char *e;
			o->threads = strtol(optarg, &e, 10);
			if (*e || o->threads < 1 || o->threads > VERIFY_THREADS_MAX)
				return -usage_error("--threads takes a number from 1 to 256, not %s", optarg);
			break;
		}
		case O_KEYS: {
			if (o->n_keys == KEY_SOURCES_MAX)
				return -usage_error("too many --public-keys (at most 64)%s", "");
			struct key_source *k = &o->keys[o->n_keys++];
			const char *eq = strchr(optarg, '=');
			const char *slash = strchr(optarg, '/');
			if (eq && (!slash || eq < slash) && eq > optarg) {
				k->region = strndup(optarg, (size_t)(eq - optarg));
				k->path = eq + 1;
			} else {
				k->path = optarg;
			}
			break;
		}
		default:
			return -usage_error("unrecognized argument: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->mnt = argv[optind++];
	if (optind < argc)
		return -usage_error("unrecognized argument: %s", argv[optind]);
	if (!o->start)
		return -usage_error("the following arguments are required: --start-time%s", "");
	if (o->mnt && o->store)
		return -usage_error("give a MOUNTPOINT or --store, not both%s", "");
	if (!o->mnt && !o->store)
		return -usage_error("give a MOUNTPOINT or --store DIR%s", "");
	if (o->store) {
		if (!o->arn)
			return -usage_error("--store needs --trail-arn%s", "");
		if (!o->bucket)
			return -usage_error("--store needs --s3-bucket%s", "");
		if (!o->n_keys && !o->keys_dir && !o->state)
			return -usage_error("--store needs --public-keys, --keys-dir or --state%s", "");
	} else {
		if (!o->trail && !o->arn)
			return -usage_error("a mount needs --trail NAME (or --trail-arn)%s", "");
		if (o->bucket || o->prefix_given)
			return -usage_error("--s3-bucket and --s3-prefix go with --store; a mount shows its trail's own bucket%s", "");
	}
	return 0;
}

/* The trail's config.json from the mount. */
struct mount_trail {
	char *arn, *bucket, *prefix, *name;
	bool multi_region;
};

static void mount_trail_release(struct mount_trail *t)
{
	free(t->arn);
	free(t->bucket);
	free(t->prefix);
	free(t->name);
}

static int read_mount_trail(const char *mnt, const char *name, struct mount_trail *t)
{
	memset(t, 0, sizeof *t);
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -ENOENT;
	struct buf path, text;
	buf_init(&path, 4096);
	buf_init(&text, CONFIG_MAX);
	int r = buf_printf(&path, "%s/trails/%s/config.json", mnt, name);
	if (r == 0)
		r = read_file(path.data, &text);
	json *doc = r == 0 ? json_parse(text.data, text.len, NULL) : NULL;
	if (r == 0 && !json_is_object(doc))
		r = -EINVAL;
	if (r == 0) {
		const char *arn = json_string(json_get(doc, "TrailARN"));
		const char *b = json_string(json_get(doc, "S3BucketName"));
		const char *p = json_string(json_get(doc, "S3KeyPrefix"));
		t->multi_region = json_bool(json_get(doc, "IsMultiRegionTrail"));
		t->arn = arn ? strdup(arn) : NULL;
		t->bucket = b ? strdup(b) : NULL;
		t->prefix = p ? strdup(p) : NULL;
		t->name = strdup(name);
		if (!arn || !b)
			r = -EINVAL;
		else if (!t->arn || !t->bucket || (p && !t->prefix) || !t->name)
			r = -ENOMEM;
	}
	json_free(doc);
	buf_release(&path);
	buf_release(&text);
	if (r < 0)
		mount_trail_release(t);
	return r;
}

/* Every key that may serve region: the explicit sources, else the mount's. */
static int load_keys(const struct opts *o, const char *region, struct verify_keys *ks)
{
	int r = 0;
	bool explicit = o->n_keys || o->keys_dir || o->state;
	for (size_t i = 0; r == 0 && i < o->n_keys; i++)
		if (!o->keys[i].region || !strcmp(o->keys[i].region, region)) {
			r = verify_keys_load_path(ks, o->keys[i].path, region);
			if (r < 0)
				fprintf(stderr, "\ntrailfs validate: cannot read public keys from %s: %s\n",
					o->keys[i].path, r == -EINVAL ? "not PEM or a ListPublicKeys response"
								     : strerror(-r));
		}
	if (r == 0 && o->keys_dir)
		r = verify_keys_load_ring(ks, o->keys_dir, region);
	if (r == 0 && o->state) {
		char *dir = NULL;
		if (asprintf(&dir, "%s/signing-keys", o->state) < 0)
			return -ENOMEM;
		r = verify_keys_load_ring(ks, dir, region);
		free(dir);
	}
	if (r == 0 && !explicit && o->mnt)
		r = validate_mount_keys(o->mnt, region, ks);
	return r;
}

int validate_main(int argc, char **argv)
{
	struct opts o;
	memset(&o, 0, sizeof o);
	int pr = parse_args(argc, argv, &o);
	int rc = 0;
	if (pr != 0) {
		rc = pr > 0 ? 0 : -pr;
		goto done_opts;
	}

	/* handle_args: the times first, as the CLI. */
	struct verify_time start, end;
	if (verify_time_parse(o.start, &start) < 0) {
		rc = fatal("Unable to parse date value: %s%s", o.start, "");
		goto done_opts;
	}
	verify_time_normalize(&start);
	if (o.end) {
		if (verify_time_parse(o.end, &end) < 0) {
			rc = fatal("Unable to parse date value: %s%s", o.end, "");
			goto done_opts;
		}
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		end.us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		end.offset = 0;
		end.has_tz = true;
	}
	verify_time_normalize(&end);
	if (start.us > end.us) {
		rc = fatal("Invalid time range specified: start-time must occur before end-time%s%s", "", "");
		goto done_opts;
	}

	struct mount_trail mt;
	memset(&mt, 0, sizeof mt);
	const char *arn = o.arn, *bucket = o.bucket, *prefix = o.prefix;
	if (o.mnt) {
		const char *name = o.trail;
		char *from_arn = NULL;
		if (!name) {
			const char *slash = strrchr(o.arn, '/');
			name = from_arn = strdup(slash ? slash + 1 : o.arn);
		}
		int r = name ? read_mount_trail(o.mnt, name, &mt) : -ENOMEM;
		free(from_arn);
		if (r < 0) {
			rc = fatal(r == -ENOENT ? "A trail could not be found for %s (no %s)"
						: "A trail could not be found for %s (%s unreadable)",
				   o.arn ? o.arn : o.trail, "config.json");
			goto done_opts;
		}
		if (o.arn && strcmp(o.arn, mt.arn)) {
			rc = fatal("A trail could not be found for %s%s", o.arn, "");
			goto done_trail;
		}
		arn = mt.arn;
		bucket = mt.bucket;
		prefix = mt.prefix;
	}
	char *home = NULL, *account = NULL, *name = NULL;
	int ar = verify_parse_arn(arn, &home, &account, &name);
	if (ar < 0) {
		rc = fatal("Invalid trail ARN provided: %s%s", arn, "");
		goto done_trail;
	}
	struct verify_trail trail = {
		.arn = arn,
		.account = o.account ? o.account : account,
		.name = name,
		.home_region = home,
		.bucket = bucket,
		.prefix = prefix,
	};

	struct store *st = NULL;
	struct verify_source src;
	memset(&src, 0, sizeof src);
	int r;
	if (o.store) {
		struct stat sb;
		if (stat(o.store, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			rc = fatal("trailfs validate: no store directory %s%s", o.store, "");
			goto done_arn;
		}
		int err = 0;
		st = store_local_new(o.store, &err);
		if (!st) {
			rc = fatal("trailfs validate: cannot open the store %s: %s", o.store, strerror(-err));
			goto done_arn;
		}
		r = verify_source_store(st, &src);
	} else {
		r = validate_mount_source(o.mnt, mt.name, bucket, prefix, trail.account, &src);
	}
	if (r < 0) {
		rc = fatal("trailfs validate: %s%s", strerror(-r), "");
		goto done_store;
	}

	struct verify_report rep;
	verify_report_init(&rep, stdout, stderr, o.verbose);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	rep.threads = (unsigned)(o.threads ? o.threads : cores > 0 ? cores : 1);
	rep.flags = o.strict ? VERIFY_STRICT_GZIP : 0;
	rep.progress = !o.no_progress && isatty(STDERR_FILENO);

	/* Regions: --region, or those with digests (the home region alone for
	 * a mount's single-region trail). */
	char **regions = NULL;
	size_t n_regions = 0;
	if (o.region) {
		regions = calloc(1, sizeof *regions);
		if (regions && (regions[0] = strdup(o.region)))
			n_regions = 1;
	} else if (o.mnt && !mt.multi_region) {
		regions = calloc(1, sizeof *regions);
		if (regions && (regions[0] = strdup(home)))
			n_regions = 1;
	} else {
		r = verify_list_regions(&src, &trail, &regions, &n_regions);
		if (r == 0 && n_regions == 0) {
			/* Nothing at all: validate the home region, which gives
			 * the CLI's answer for an empty bucket. */
			regions = calloc(1, sizeof *regions);
			if (regions && (regions[0] = strdup(home)))
				n_regions = 1;
		}
	}

	verify_report_header(&rep, arn, &start, &end);
	if (r == -ENXIO) {
		verify_report_fatal(&rep, "An error occurred (NoSuchBucket) when calling the GetBucketLocation operation: The specified bucket does not exist");
	} else if (r < 0 || !n_regions) {
		verify_report_fatal(&rep, "trailfs validate: cannot list the digests: %s",
				    strerror(r < 0 ? -r : ENOMEM));
	}
	bool any_fatal = rep.fatal != NULL;
	for (size_t i = 0; !rep.fatal && i < n_regions; i++) {
		struct verify_keys keys;
		verify_keys_init(&keys);
		r = load_keys(&o, regions[i], &keys);
		if (r < 0) {
			verify_report_fatal(&rep, "trailfs validate: cannot load the public keys of %s: %s",
					    regions[i], strerror(-r));
		} else {
			verify_run_region(&rep, &src, &trail, regions[i], &keys, &start, &end);
		}
		verify_keys_release(&keys);
		if (rep.fatal) {
			any_fatal = true;
			/* With several regions the others still run, and the
			 * summary is printed; exit 255 stays. */
			if (n_regions > 1) {
				free(rep.fatal);
				rep.fatal = NULL;
			}
		}
	}
	if (!rep.fatal)
		verify_report_summary(&rep, &start, &end);
	rc = verify_report_exit_code(&rep);
	if (any_fatal)
		rc = 255;
	verify_report_release(&rep);
	verify_names_free(regions, n_regions);
	verify_source_free(&src);
done_store:
	store_free(st);
done_arn:
	free(home);
	free(account);
	free(name);
done_trail:
	mount_trail_release(&mt);
done_opts:
	for (size_t i = 0; i < o.n_keys; i++)
		free(o.keys[i].region);
	fflush(stdout);
	return rc;
}
