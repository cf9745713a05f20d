/*
 * cli.h - subcommands of the daemonpulse binary other than `serve`.
 *
 * main.c parses the first argument and hands the rest over: argv[0] is the
 * subcommand name ("seed", "user"), argv[1..] its options. Each returns the
 * process exit status (0 success, 1 failure, 2 usage error). They run before
 * any event loop exists and may block (they are command-line tools).
 * Implemented in cli_user.c.
 */
#ifndef DP_CLI_H
#define DP_CLI_H

/* `daemonpulse seed [--db PATH] [--username NAME] [--password-stdin]` */
int dp_cli_seed(int argc, char **argv);
/* `daemonpulse user add|passwd|list|remove|role ...` */
int dp_cli_user(int argc, char **argv);
/* `daemonpulse db info [--json] | db vacuum` [--db PATH] */
int dp_cli_db(int argc, char **argv);

#endif
