/* trailfs MOUNTPOINT [-f] [-d] [-o opt[,opt...]]: mount the trail tree. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "validate.h"

/* fuse_opt_parse gives each string a strdup'd copy: options_release them. */
struct options {
	char *state;
	char *store;
	char *account;
	char *region;
	char *regions;
	char *test_clock;
	char *delivery_interval;
	char *spool_max;
	char *key_deletion_days;
	char *ingest_group;
	char *digest_interval;
	char *key_rotation;
	int allow_other;
	int verify_reads;
	int show_help;
	int show_version;
};

#define OPT(t, p) { t, offsetof(struct options, p), 1 }
enum { KEY_ALLOW_OTHER = 100 };

static const struct fuse_opt option_spec[] = {
	OPT("state=%s", state),
	OPT("store=%s", store),
	OPT("account=%s", account),
	OPT("region=%s", region),
	OPT("regions=%s", regions),
	OPT("test_clock=%s", test_clock),
	OPT("delivery_interval=%s", delivery_interval),
	OPT("spool_max=%s", spool_max),
	OPT("key_deletion_days=%s", key_deletion_days),
	OPT("ingest_group=%s", ingest_group),
	OPT("digest_interval=%s", digest_interval),
	OPT("key_rotation=%s", key_rotation),
	OPT("verify_reads", verify_reads),
	OPT("-h", show_help),
	OPT("--help", show_help),
	OPT("-V", show_version),
	OPT("--version", show_version),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_END,
};

static int option_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	(void)arg;
	(void)out;
	if (key == KEY_ALLOW_OTHER)
		((struct options *)data)->allow_other = 1;
	return 1;   /* keep everything else for FUSE */
}

static void options_release(struct options *o)
{
	free(o->state);
	free(o->store);
	free(o->account);
	free(o->region);
	free(o->regions);
	free(o->test_clock);
	free(o->delivery_interval);
	free(o->spool_max);
	free(o->key_deletion_days);
	free(o->ingest_group);
	free(o->digest_interval);
	free(o->key_rotation);
	memset(o, 0, sizeof *o);
}

/* A size: digits with an optional K, M, G or T (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: break;
	}
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Whole seconds from min to max for option name=text into *out. */
static int parse_seconds(const char *name, const char *text, unsigned long min,
			 unsigned long max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max || text[0] == '-') {
		fprintf(stderr, "trailfs: %s=%s: give whole seconds from %lu to %lu\n", name, text,
			min, max);
		return -1;
	}
	*out = v;
	return 0;
}

#define DIGEST_INTERVAL_MAX 86400u           /* a day */
#define KEY_ROTATION_MAX    (3650u * 86400u) /* ten years */

/* Options that are numbers or names, checked before anything starts. */
static int check_options(const struct options *o, unsigned *interval, uint64_t *spool_max,
			 gid_t *gid, bool *gid_set, unsigned *digest_interval,
			 uint64_t *key_rotation, unsigned *key_days)
{
	*interval = 0;
	*key_days = 0;
	if (o->key_deletion_days) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(o->key_deletion_days, &end, 10);
		if (errno || end == o->key_deletion_days || *end || v < 7 || v > 30 ||
		    o->key_deletion_days[0] == '-') {
			fprintf(stderr, "trailfs: key_deletion_days=%s: give whole days from 7 to 30, "
				"as KMS's PendingWindowInDays\n", o->key_deletion_days);
			return -1;
		}
		*key_days = (unsigned)v;
	}
	*spool_max = 0;
	*gid_set = false;
	*digest_interval = 0;
	*key_rotation = 0;
	uint64_t v;
	if (o->delivery_interval) {
		if (parse_seconds("delivery_interval", o->delivery_interval, 1, 86400, &v) < 0)
			return -1;
		*interval = (unsigned)v;
	}
	if (o->digest_interval) {
		if (parse_seconds("digest_interval", o->digest_interval, 1, DIGEST_INTERVAL_MAX, &v) < 0)
			return -1;
		*digest_interval = (unsigned)v;
	}
	if (o->key_rotation &&
	    parse_seconds("key_rotation", o->key_rotation, 0, KEY_ROTATION_MAX, key_rotation) < 0)
		return -1;
	if (o->spool_max && parse_size(o->spool_max, spool_max) < 0) {
		fprintf(stderr, "trailfs: spool_max=%s: give a size like 512M or 2G\n", o->spool_max);
		return -1;
	}
	if (o->ingest_group) {
		struct group gr, *res = NULL;
		char text[4096];
		if (getgrnam_r(o->ingest_group, &gr, text, sizeof text, &res) != 0 || !res) {
			fprintf(stderr, "trailfs: ingest_group=%s: no such group\n", o->ingest_group);
			return -1;
		}
		*gid = res->gr_gid;
		*gid_set = true;
	}
	return 0;
}

static void usage(const char *prog)
{
	printf("usage: %s MOUNTPOINT [-f] [-d] [-o opt[,opt...]]\n"
	       "       %s validate ...      validate a trail's log files (see validate --help)\n\n"
	       "An audit-trail service in the manner of AWS CloudTrail, as a filesystem.\n\n"
	       "trailfs options:\n"
	       "    -o state=DIR           registry and everything else the engine keeps\n"
	       "                           (default /var/lib/trailfs for root,\n"
	       "                           ~/.local/state/trailfs for others)\n"
	       "    -o store=DIR           the local object store (default STATE/store)\n"
	       "    -o account=ID          12-digit account id (default: generated once, kept)\n"
	       "    -o region=REGION       home region (default us-east-1)\n"
	       "    -o regions=R1:R2:...   the regions events may come from (default: the AWS\n"
	       "                           commercial regions; colons, as commas part options)\n"
	       "    -o test_clock=FILE     testing aid: read the time (epoch seconds) from FILE\n"
	       "    -o delivery_interval=S seconds between log file deliveries (default 300, 1 or more)\n"
	       "    -o spool_max=SIZE      the most accepted, undelivered records kept, e.g. 512M\n"
	       "                           (default 1G); /events refuses writes with ENOSPC past it\n"
	       "    -o ingest_group=GROUP  members of GROUP may write /events too\n"
	       "    -o digest_interval=S   seconds per digest file window (default 3600, 1 or more)\n"
	       "    -o key_rotation=S      rotate each region's signing key when it is S seconds\n"
	       "                           old (default 0: never)\n"
	       "    -o verify_reads        opening a log file whose digest says it was changed\n"
	       "                           (user.trailfs.integrity invalid) fails with EIO\n"
	       "    -o key_deletion_days=N the pending window of a key's deletion (rmdir keys/NAME),\n"
	       "                           7 to 30 days (default 30)\n"
	       "    -o allow_other         let other users read (implies default_permissions)\n"
	       "    -f                     stay in the foreground\n"
	       "    -d                     debug output (implies -f)\n"
	       "    -h, --help             this help\n"
	       "    -V, --version          the version\n\n"
	       "FUSE options:\n", prog, prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

static char *default_state_dir(void)
{
	if (geteuid() == 0)
		return strdup("/var/lib/trailfs");
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char path[4096];
	if (xdg && *xdg)
		snprintf(path, sizeof path, "%s/trailfs", xdg);
	else if (home && *home)
		snprintf(path, sizeof path, "%s/.local/state/trailfs", home);
	else
		return NULL;
	return strdup(path);
}

/* fuse_daemonize changes to "/" when it goes to the background, so a
 * relative state=, store= or test_clock= path must be made absolute first.
 * A malloc'd copy, or NULL (out of memory, or no working directory). */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	size_t n = strlen(cwd) + 1 + strlen(path) + 1;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", cwd, path);
	return out;
}

/* fuse_daemonize forks: the child keeps the lock on the state directory (an
 * flock, shared across fork), but the lock file names the parent, which has
 * exited.  Name the process that serves, so that a second daemon's refusal
 * points at the right one. */
static void lock_names_this_process(const char *state)
{
	char path[PATH_MAX], pid[32];
	if (snprintf(path, sizeof path, "%s/lock", state) >= (int)sizeof path)
		return;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)len, 0);
	close(fd);
}

int main(int argc, char **argv)
{
	/* `trailfs validate ...` is a command, not a mount (cli/validate.c). */
	if (argc > 1 && !strcmp(argv[1], "validate"))
		return validate_main(argc - 1, argv + 1);
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o;
	memset(&o, 0, sizeof o);
	if (fuse_opt_parse(&args, &o, option_spec, option_proc) < 0) {
		options_release(&o);
		fuse_opt_free_args(&args);
		return 2;
	}
	if (o.show_help) {
		usage(argv[0]);
		options_release(&o);
		fuse_opt_free_args(&args);
		return 0;
	}
	if (o.show_version) {
		printf("trailfs %s (FUSE %s)\n", TRAILFS_VERSION, fuse_pkgversion());
		options_release(&o);
		fuse_opt_free_args(&args);
		return 0;
	}
	struct fuse_cmdline_opts cmd;
	if (fuse_parse_cmdline(&args, &cmd) != 0) {
		options_release(&o);
		fuse_opt_free_args(&args);
		return 2;
	}
	if (!cmd.mountpoint) {
		fprintf(stderr, "trailfs: no mount point given (see %s --help)\n", argv[0]);
		options_release(&o);
		fuse_opt_free_args(&args);
		return 2;
	}
	/* With other users in, the kernel must enforce the mode bits. */
	if (o.allow_other)
		fuse_opt_add_arg(&args, "-odefault_permissions");

	char *state = o.state ? absolute(o.state) : default_state_dir();
	if (!state) {
		fprintf(stderr, "trailfs: no state directory: give -o state=DIR\n");
		options_release(&o);
		free(cmd.mountpoint);
		fuse_opt_free_args(&args);
		return 2;
	}
	char *store = o.store ? absolute(o.store) : NULL;
	char *test_clock = o.test_clock ? absolute(o.test_clock) : NULL;
	if ((o.store && !store) || (o.test_clock && !test_clock)) {
		fprintf(stderr, "trailfs: cannot make the store= or test_clock= path absolute\n");
		free(state);
		free(store);
		options_release(&o);
		free(cmd.mountpoint);
		fuse_opt_free_args(&args);
		return 2;
	}
	unsigned interval;
	uint64_t spool_max;
	gid_t ingest_gid = 0;
	bool ingest_gid_set;
	unsigned digest_interval;
	uint64_t key_rotation;
	unsigned key_days;
	if (check_options(&o, &interval, &spool_max, &ingest_gid, &ingest_gid_set, &digest_interval,
			  &key_rotation, &key_days) < 0) {
		free(state);
		free(store);
		free(test_clock);
		options_release(&o);
		free(cmd.mountpoint);
		fuse_opt_free_args(&args);
		return 2;
	}
	struct ct_options co = {
		.state_dir = state, .store_dir = store, .account = o.account,
		.region = o.region, .regions = o.regions, .test_clock = test_clock,
		.delivery_interval = interval, .spool_max = spool_max,
		.digest_interval = digest_interval, .key_rotation = key_rotation,
		.key_deletion_days = key_days,
	};
	struct ct_err err;
	ct_err_clear(&err);
	struct fs fs;
	memset(&fs, 0, sizeof fs);
	fs.ct = ct_open(&co, &err);
	int allow_other = o.allow_other;
	bool verify_reads = o.verify_reads;
	options_release(&o);   /* ct_open keeps copies of what it needs */
	if (!fs.ct) {
		fprintf(stderr, "trailfs: %s\n", err.message);
		free(test_clock);
		free(store);
		free(state);
		free(cmd.mountpoint);
		fuse_opt_free_args(&args);
		return 1;
	}
	fs.uid = getuid();
	fs.gid = getgid();
	fs.mount_time = time(NULL);
	fs.allow_other = allow_other;
	fs.verify_reads = verify_reads;
	fs.ingest_gid = ingest_gid;
	fs.ingest_gid_set = ingest_gid_set;
	scratch_init(&fs.scratch);
	handles_init(&fs.handles);
	int ret = 1;
	if (nodes_init(&fs.nodes) < 0) {
		fprintf(stderr, "trailfs: out of memory\n");
		goto out_nodes;
	}

	struct fuse_session *se = fuse_session_new(&args, &trailfs_ops, sizeof trailfs_ops, &fs);
	if (!se)
		goto out_nodes;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(cmd.foreground);
	if (!cmd.foreground)
		lock_names_this_process(state);
	/* Threads only now: fuse_daemonize forks, and threads do not follow. */
	if (inval_start(&fs, se) < 0 || ct_start_delivery(fs.ct, inval_delivered, &fs) < 0) {
		fprintf(stderr, "trailfs: cannot start delivering\n");
		inval_stop(&fs);
		fuse_session_unmount(se);
		goto out_signals;
	}
	if (cmd.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, cmd.clone_fd);
		/* Unset values arrive as UINT_MAX; leave libfuse's defaults then. */
		if (cmd.max_threads != UINT_MAX)
			fuse_loop_cfg_set_max_threads(lc, cmd.max_threads);
		if (cmd.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, cmd.max_idle_threads);
		ret = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* A signal ends the loop with the signal's number: a clean unmount. */
	if (ret > 0)
		ret = 0;
	inval_stop(&fs);
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_nodes:
	nodes_release(&fs.nodes);
	handles_release(&fs.handles);
	scratch_release(&fs.scratch);
	ct_close(fs.ct);
	free(test_clock);
	free(store);
	free(state);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
