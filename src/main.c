/*
 * main.c - the daemonpulse command: `serve`, `seed`, `user`, `agent`, `--help`,
 * `--version`. Subcommands other than serve live in cli_user.c (cli.h).
 */
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "route.h"
#include "server.h"
#include "version.h"

extern char **environ;

static void usage(FILE *out)
{
	fprintf(out, "usage: daemonpulse <command> [options]\n\n"
	             "DaemonPulse: a web control plane for LM Studio's headless daemon (llmster).\n\n"
	             "commands:\n"
	             "  serve      run the control plane (daemonpulse serve --help lists every option)\n"
	             "  seed       create the database and an admin account\n"
	             "             seed [--db PATH] [--username NAME] [--password-stdin]\n"
	             "             (a random password is printed once unless one is given on stdin)\n"
	             "  user       manage accounts: user add|passwd|list|remove|role ... (user --help)\n"
	             "  db         the database: db info [--json] | db vacuum (db --help)\n"
	             "  routes     print every API route with its method and required role (JSON)\n"
	             "  agent      run the host agent on an LM Studio host (agent --help)\n"
	             "  --version  print the version\n"
	             "  --help     this text\n\n"
	             "Configuration of serve: flags, or the environment variables BIND, BRIDGE_PORT,\n"
	             "DB_PATH, DATA_DIR, DAEMON_API_URL, DAEMON_API_KEY, LMS_BIN (and DP_*), or a\n"
	             "--config FILE of `NAME = value` lines. Defaults: 127.0.0.1:3000, data in ./var.\n"
	             "Forgot the admin password? daemonpulse user passwd <name> --db <db>\n");
}

/* `daemonpulse routes`: the compiled route table as JSON, so tests and
 * docs can walk every route with its required role. */
static int routes(void)
{
	char *err = NULL;
	struct dp_route_table *t = dp_route_table_new(dp_route_slices, 0, &err);
	if (!t) {
		fprintf(stderr, "daemonpulse: %s\n", err);
		free(err);
		return 1;
	}
	json_t *arr = json_array();
	/* the last entry is the web UI fallback, not an API route */
	for (size_t i = 0; i + 1 < dp_route_table_count(t); i++) {
		const struct dp_route *r = dp_route_table_at(t, i);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b}", "method", r->method, "path", r->path, "role",
		                                     dp_role_name(r->role), "csrf_exempt",
		                                     (r->flags & DP_ROUTE_NO_CSRF) != 0));
	}
	char *txt = json_dumps(arr, JSON_INDENT(1));
	puts(txt);
	free(txt);
	json_decref(arr);
	dp_route_table_free(t);
	return 0;
}

static int serve(int argc, char **argv)
{
	struct dp_config cfg;
	char *err = NULL;
	dp_config_init(&cfg);
	int rc = dp_config_load(&cfg, argc, argv, environ, stdout, &err);
	if (rc == 1) {
		dp_config_release(&cfg);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "daemonpulse: %s\n", err);
		free(err);
		dp_config_release(&cfg);
		return 1;
	}
	/* a client that disconnects mid-write must not kill the process */
	signal(SIGPIPE, SIG_IGN);
	struct dp_server srv;
	rc = dp_server_init(&srv, &cfg, &err);
	if (rc == 0)
		rc = dp_server_listen(&srv, &err);
	if (rc == 0) {
		if (cfg.daemon_api_url[0])
			dp_info("default LM Studio target: %s", cfg.daemon_api_url);
		rc = dp_server_run(&srv);
		if (rc == 0)
			dp_info("stopped");
	} else {
		fprintf(stderr, "daemonpulse: %s\n", err ? err : "start-up failed");
		free(err);
	}
	dp_server_release(&srv);
	dp_config_release(&cfg);
	libevent_global_shutdown();
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("daemonpulse %s\n", dp_version);
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (strcmp(cmd, "routes") == 0)
		return routes();
	if (strcmp(cmd, "seed") == 0)
		return dp_cli_seed(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return dp_cli_user(argc - 1, argv + 1);
	if (strcmp(cmd, "db") == 0)
		return dp_cli_db(argc - 1, argv + 1);
	if (strcmp(cmd, "agent") == 0)
		return dp_agent_main(argc - 1, argv + 1);
	fprintf(stderr, "daemonpulse: unknown command '%.64s' (see daemonpulse --help)\n", cmd);
	return 2;
}
