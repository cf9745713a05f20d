/*
 * main.c - entry point of the `lms` stand-in (build/lms).
 *
 * Dispatches `lms <command> [subcommand] [options]` to the command modules
 * through a table. Unknown commands fail like commander.js does (exit 1).
 * See lms.h for the overall contract and sim/README.md for the simulator
 * endpoints it uses.
 */
#include "lms.h"

#include <stdio.h>
#include <string.h>

typedef int (*cmd_fn)(int argc, char **argv);

struct cmd {
	const char *word1;
	const char *word2; /* NULL: a one-word command */
	cmd_fn fn;
};

static const struct cmd cmds[] = {
        {.word1 = "ps", .fn = dp_lms_models_ps},
        {.word1 = "ls", .fn = dp_lms_models_ls},
        {.word1 = "load", .fn = dp_lms_models_load},
        {.word1 = "unload", .fn = dp_lms_models_unload},
        {.word1 = "log", .word2 = "stream", .fn = dp_lms_system_log_stream},
        {.word1 = "runtime", .word2 = "survey", .fn = dp_lms_system_survey},
        {.word1 = "server", .word2 = "status", .fn = dp_lms_system_server_status},
        {.word1 = "server", .word2 = "start", .fn = dp_lms_system_server_start},
        {.word1 = "server", .word2 = "stop", .fn = dp_lms_system_server_stop},
        {.word1 = "version", .fn = dp_lms_system_version},
        {.word1 = "daemon", .word2 = "status", .fn = dp_lms_system_daemon_status},
        {.word1 = "daemon", .word2 = "up", .fn = dp_lms_system_daemon_up},
        {.word1 = "daemon", .word2 = "down", .fn = dp_lms_system_daemon_down},
};

static void usage(FILE *f)
{
	fputs("Usage: lms <command> [options]\n\n"
	      "LM Studio CLI stand-in for llmster-sim (DaemonPulse). Commands:\n"
	      "  ps [--json]\n"
	      "  ls [modelKey] [--json] [--llm] [--embedding] [--variants]\n"
	      "  load <model-key> [--gpu off|max|0..1] [-c|--context-length N] [--parallel N]\n"
	      "       [--ttl S] [--identifier ID] [--estimate-only] [-y|--yes]\n"
	      "  unload <identifier> | -a|--all\n"
	      "  log stream [-s|--source model|server|runtime] [--json] [--stats] [--filter input,output]\n"
	      "  runtime survey [--json]\n"
	      "  server status [--json] | server start [-p N] [--bind ADDR] [--cors] | server stop\n"
	      "  version [--json]\n"
	      "  daemon status [--json] | daemon up [--json] | daemon down\n\n"
	      "ps, ls, load, unload, log stream and runtime survey accept --host H (bare host) and\n"
	      "--port N. Every command's default target is $LMS_SIM_HOST:$LMS_SIM_PORT\n"
	      "(127.0.0.1:1234).\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return argc < 2 ? 1 : 0;
	}
	int known_word1 = 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const struct cmd *c = &cmds[i];
		if (strcmp(argv[1], c->word1) != 0)
			continue;
		known_word1 = 1;
		if (!c->word2)
			return c->fn(argc - 2, argv + 2);
		if (argc >= 3 && strcmp(argv[2], c->word2) == 0)
			return c->fn(argc - 3, argv + 3);
	}
	if (known_word1)
		fprintf(stderr, "error: unknown command '%s %s'\n", argv[1], argc >= 3 ? argv[2] : "");
	else
		fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
	return 1;
}
