/* trailfs MOUNTPOINT [-f] [-d] [-o opt[,opt...]]: mount the trail tree. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

struct options {
	const char *state;
	const char *store;
	const char *account;
	const char *region;
	const char *regions;
	const char *test_clock;
	int allow_other;
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

static void usage(const char *prog)
{
	printf("usage: %s MOUNTPOINT [-f] [-d] [-o opt[,opt...]]\n\n"
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
	       "    -o allow_other         let other users read (implies default_permissions)\n"
	       "    -f                     stay in the foreground\n"
	       "    -d                     debug output (implies -f)\n"
	       "    -h, --help             this help\n"
	       "    -V, --version          the version\n\n"
	       "FUSE options:\n", prog);
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

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o;
	memset(&o, 0, sizeof o);
	if (fuse_opt_parse(&args, &o, option_spec, option_proc) < 0)
		return 2;
	if (o.show_help) {
		usage(argv[0]);
		fuse_opt_free_args(&args);
		return 0;
	}
	if (o.show_version) {
		printf("trailfs %s (FUSE %s)\n", TRAILFS_VERSION, fuse_pkgversion());
		fuse_opt_free_args(&args);
		return 0;
	}
	struct fuse_cmdline_opts cmd;
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		return 2;
	if (!cmd.mountpoint) {
		fprintf(stderr, "trailfs: no mount point given (see %s --help)\n", argv[0]);
		fuse_opt_free_args(&args);
		return 2;
	}
	/* With other users in, the kernel must enforce the mode bits. */
	if (o.allow_other)
		fuse_opt_add_arg(&args, "-odefault_permissions");

	char *state = o.state ? strdup(o.state) : default_state_dir();
	if (!state) {
		fprintf(stderr, "trailfs: no state directory: give -o state=DIR\n");
		return 2;
	}
	struct ct_options co = {
		.state_dir = state, .store_dir = o.store, .account = o.account,
		.region = o.region, .regions = o.regions, .test_clock = o.test_clock,
	};
	struct ct_err err;
	ct_err_clear(&err);
	struct fs fs;
	memset(&fs, 0, sizeof fs);
	fs.ct = ct_open(&co, &err);
	if (!fs.ct) {
		fprintf(stderr, "trailfs: %s\n", err.message);
		free(state);
		free(cmd.mountpoint);
		fuse_opt_free_args(&args);
		return 1;
	}
	fs.uid = getuid();
	fs.gid = getgid();
	fs.mount_time = time(NULL);
	fs.allow_other = o.allow_other;
	scratch_init(&fs.scratch);
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
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_nodes:
	nodes_release(&fs.nodes);
	scratch_release(&fs.scratch);
	ct_close(fs.ct);
	free(state);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
