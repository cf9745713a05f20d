/*
 * cli_user.c - `daemonpulse seed` and `daemonpulse user ...`: account
 * management from the command line (see cli.h; usage in docs/api-auth.md).
 *
 * These run before any event loop exists and may block: argon2id hashing
 * happens right here. Passwords are never taken from argv (visible in ps)
 * and never echoed: one line from stdin with --password-stdin, or a no-echo
 * prompt on the terminal (asked twice). A generated password (seed, or
 * `user add` without a terminal) is printed exactly once on stdout as a
 * line `password: <secret>`; everything else goes to stderr.
 *
 * The last-admin rule is the store's (dp_store_user_set_role/_delete), so
 * the CLI and the server enforce the same thing. Every change is audited
 * with detail {"via":"cli"}.
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "audit.h"
#include "auth.h"
#include "store.h"
#include "xmalloc.h"

#define DEFAULT_DB "./var/daemonpulse.db"

struct opts {
	const char *db;
	const char *username;
	const char *role;
	int password_stdin;
	int force;
	int json;
	int help;
	const char *pos[3]; /* positional arguments */
	int npos;
};

static int usage_error(const char *msg, const char *arg)
{
	if (arg)
		fprintf(stderr, "daemonpulse: %s '%s'\n", msg, arg);
	else
		fprintf(stderr, "daemonpulse: %s\n", msg);
	fprintf(stderr, "try 'daemonpulse user --help'\n");
	return 2;
}

static void print_usage(FILE *f)
{
	fputs("usage: daemonpulse seed [--db PATH] [--username NAME] [--password-stdin] [--force]\n"
	      "       daemonpulse user add NAME [--role viewer|operator|admin] [--password-stdin] [--db PATH]\n"
	      "       daemonpulse user passwd NAME [--password-stdin] [--db PATH]\n"
	      "       daemonpulse user list [--json] [--db PATH]\n"
	      "       daemonpulse user remove NAME [--db PATH]\n"
	      "       daemonpulse user role NAME viewer|operator|admin [--db PATH]\n"
	      "       daemonpulse db info [--json] [--db PATH]\n"
	      "       daemonpulse db vacuum [--db PATH]\n"
	      "\n"
	      "  --db PATH          database file; default $DB_PATH, else $DATA_DIR/daemonpulse.db,\n"
	      "                     else " DEFAULT_DB "\n"
	      "  --password-stdin   read the password as one line from stdin; otherwise it is asked\n"
	      "                     on the terminal (not echoed), or generated and printed once\n"
	      "                     when there is no terminal (seed, user add)\n"
	      "  --username NAME    seed: the admin's name (default admin)\n"
	      "  --force            seed: add the admin even if the database already has users\n"
	      "  --json             list, info: JSON output\n"
	      "\n"
	      "Passwords: at least 12 characters, at most 1024 bytes. Usernames: 1-64 of a-z A-Z 0-9 . _ -\n"
	      "The last admin can be neither removed nor demoted.\n"
	      "db info: size, free space and schema version. db vacuum: rewrite the file without its\n"
	      "free pages (needs about its size again on disk; best with the server stopped); from then\n"
	      "on the server gives freed pages back by itself.\n",
	      f);
}

/* Parse options after the subcommand word(s). 0 or a usage exit code. */
static int parse(int argc, char **argv, int first, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		const char **val = NULL;
		const char *name = a;
		const char *eq = NULL;
		if (strncmp(a, "--", 2) == 0 && (eq = strchr(a, '=')) != NULL) {
			/* --db=PATH */
		}
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		if (nl == 4 && strncmp(a, "--db", 4) == 0)
			val = &o->db;
		else if (nl == 10 && strncmp(a, "--username", 10) == 0)
			val = &o->username;
		else if (nl == 6 && strncmp(a, "--role", 6) == 0)
			val = &o->role;
		else if (strcmp(a, "--password-stdin") == 0)
			o->password_stdin = 1;
		else if (strcmp(a, "--force") == 0)
			o->force = 1;
		else if (strcmp(a, "--json") == 0)
			o->json = 1;
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			o->help = 1;
		else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++) {
				if (o->npos == 3)
					return usage_error("too many arguments", NULL);
				o->pos[o->npos++] = argv[i];
			}
			break;
		} else if (a[0] == '-' && a[1])
			return usage_error("unknown option", name);
		else {
			if (o->npos == 3)
				return usage_error("too many arguments", NULL);
			o->pos[o->npos++] = a;
		}
		if (val) {
			if (eq)
				*val = eq + 1;
			else if (i + 1 < argc)
				*val = argv[++i];
			else
				return usage_error("missing value for", a);
			if (!**val)
				return usage_error("empty value for", a);
		}
	}
	return 0;
}

static char *db_path(const struct opts *o)
{
	if (o->db)
		return xstrdup(o->db);
	const char *p = getenv("DB_PATH");
	if (p && *p)
		return xstrdup(p);
	const char *d = getenv("DATA_DIR");
	if (d && *d)
		return xasprintf("%s/daemonpulse.db", d);
	return xstrdup(DEFAULT_DB);
}

static struct dp_store *open_db(const struct opts *o)
{
	char *path = db_path(o), *err = NULL;
	struct dp_store *s = dp_store_open(path, &err);
	if (!s)
		fprintf(stderr, "daemonpulse: %s\n", err ? err : "cannot open the database");
	free(err);
	free(path);
	return s;
}

/* Read one line (without the newline) into a sodium-guarded heap buffer.
 * NULL on EOF/error or when longer than the maximum. */
static char *read_line(FILE *f)
{
	size_t cap = DP_AUTH_PASSWORD_MAX + 2;
	char *buf = sodium_malloc(cap + 1);
	if (!buf)
		return NULL;
	size_t n = 0;
	int ch;
	while ((ch = fgetc(f)) != EOF && ch != '\n') {
		if (n == cap) {
			sodium_free(buf);
			return NULL;
		}
		buf[n++] = (char)ch;
	}
	if (ch == EOF && n == 0) {
		sodium_free(buf);
		return NULL;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return buf;
}

/* Prompt on the terminal with echo off. */
static char *prompt(const char *text)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return NULL;
	struct termios old, noecho;
	int fd = fileno(tty);
	int restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		tcsetattr(fd, TCSAFLUSH, &noecho);
	}
	fputs(text, tty);
	fflush(tty);
	char *pw = read_line(tty);
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	fclose(tty);
	return pw;
}

enum pw_mode { PW_ASK_OR_GENERATE, PW_ASK_ONLY };

/* Get a password per the options. *generated is set when we made it up. */
static char *get_password(const struct opts *o, enum pw_mode mode, int *generated)
{
	*generated = 0;
	const char *why;
	char *pw = NULL;
	if (o->password_stdin) {
		pw = read_line(stdin);
		if (!pw) {
			fprintf(stderr, "daemonpulse: no password on stdin (one line, at most %d bytes)\n",
			        DP_AUTH_PASSWORD_MAX);
			return NULL;
		}
	} else if (isatty(STDIN_FILENO)) {
		pw = prompt("New password: ");
		char *again = pw ? prompt("Repeat it: ") : NULL;
		if (!pw || !again || strcmp(pw, again) != 0) {
			fprintf(stderr, "daemonpulse: %s\n",
			        pw && again ? "the passwords differ" : "no password given");
			if (pw)
				sodium_free(pw);
			if (again)
				sodium_free(again);
			return NULL;
		}
		sodium_free(again);
	} else if (mode == PW_ASK_OR_GENERATE) {
		pw = sodium_malloc(25);
		if (!pw)
			return NULL;
		dp_auth_random_password(pw);
		*generated = 1;
		return pw;
	} else {
		fprintf(stderr, "daemonpulse: no terminal: pass the password with --password-stdin\n");
		return NULL;
	}
	if (dp_auth_password_check(pw, &why) < 0) {
		fprintf(stderr, "daemonpulse: %s\n", why);
		sodium_free(pw);
		return NULL;
	}
	return pw;
}

static int hash_pw(char *pw, char out[128])
{
	int ret = dp_auth_hash_password(pw, out);
	sodium_free(pw);
	if (ret < 0)
		fprintf(stderr, "daemonpulse: cannot hash the password (out of memory)\n");
	return ret;
}

static void audit(struct dp_store *s, const char *action, const char *name, const char *result, json_t *extra)
{
	char target[96];
	snprintf(target, sizeof(target), "user:%s", name);
	json_t *d = extra ? extra : json_object();
	json_object_set_new(d, "via", json_string("cli"));
	dp_audit_record(s, 0, NULL, action, target, result, d, NULL);
	json_decref(d);
}

static void print_generated(const char *name, const char *pw)
{
	printf("username: %s\npassword: %s\n", name, pw);
	fflush(stdout);
	fprintf(stderr, "this password is shown once; change it with 'daemonpulse user passwd %s'\n", name);
}

static int create_user(struct dp_store *s, const char *name, int role, const struct opts *o)
{
	struct dp_store_user u;
	if (dp_store_user_by_name(s, name, &u) == 0) {
		fprintf(stderr, "daemonpulse: user '%s' already exists\n", name);
		return 1;
	}
	int generated;
	char *pw = get_password(o, PW_ASK_OR_GENERATE, &generated);
	if (!pw)
		return 1;
	char shown[25] = "";
	if (generated)
		memcpy(shown, pw, 25);
	char hash[128];
	if (hash_pw(pw, hash) < 0)
		return 1;
	int ret = dp_store_user_create(s, name, hash, role, (int64_t)time(NULL), NULL);
	audit(s, "user.create", name, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED,
	      json_pack("{s:s}", "role", dp_role_name(role)));
	if (ret < 0) {
		sodium_memzero(shown, sizeof(shown));
		fprintf(stderr, "daemonpulse: cannot create user '%s'%s\n", name,
		        ret == -EEXIST ? ": it already exists" : "");
		return 1;
	}
	if (generated)
		print_generated(name, shown);
	sodium_memzero(shown, sizeof(shown));
	fprintf(stderr, "created %s '%s'\n", dp_role_name(role), name);
	return 0;
}

int dp_cli_seed(int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, 1, &o);
	if (rc)
		return rc;
	if (o.help) {
		print_usage(stdout);
		return 0;
	}
	if (o.npos || o.role)
		return usage_error("seed takes only --db, --username, --password-stdin and --force", NULL);
	if (sodium_init() < 0) {
		fprintf(stderr, "daemonpulse: cannot initialise libsodium\n");
		return 1;
	}
	const char *name = o.username ? o.username : "admin";
	if (!dp_auth_username_valid(name))
		return usage_error("invalid username (1-64 of a-z A-Z 0-9 . _ -)", name);
	struct dp_store *s = open_db(&o);
	if (!s)
		return 1;
	int64_t n = 0;
	if (dp_store_user_count(s, 0, &n) < 0) {
		dp_store_free(s);
		return 1;
	}
	if (n > 0 && !o.force) {
		fprintf(stderr,
		        "daemonpulse: the database already has %lld user(s); not seeding "
		        "(use 'daemonpulse user add', or seed --force to add another admin)\n",
		        (long long)n);
		dp_store_free(s);
		return 1;
	}
	rc = create_user(s, name, DP_ROLE_ADMIN, &o);
	dp_store_free(s);
	return rc;
}

static int need_user(struct dp_store *s, const char *name, struct dp_store_user *u)
{
	if (dp_store_user_by_name(s, name, u) == 0)
		return 0;
	fprintf(stderr, "daemonpulse: no user named '%s'\n", name);
	return 1;
}

static int cmd_passwd(struct dp_store *s, const struct opts *o)
{
	struct dp_store_user u;
	if (need_user(s, o->pos[1], &u))
		return 1;
	int generated;
	char *pw = get_password(o, PW_ASK_ONLY, &generated);
	if (!pw)
		return 1;
	char hash[128];
	if (hash_pw(pw, hash) < 0)
		return 1;
	int ret = dp_store_user_set_password(s, u.id, hash, (int64_t)time(NULL));
	if (ret == 0)
		dp_store_session_delete_user(s, u.id, 0);
	audit(s, "user.update", u.username, ret == 0 ? DP_AUDIT_OK : DP_AUDIT_FAILED,
	      json_pack("{s:b}", "password_reset", 1));
	if (ret < 0) {
		fprintf(stderr, "daemonpulse: cannot change the password of '%s'\n", u.username);
		return 1;
	}
	fprintf(stderr, "password of '%s' changed; their sessions were signed out\n", u.username);
	return 0;
}

static int cmd_role(struct dp_store *s, const struct opts *o)
{
	int role = dp_role_parse(o->pos[2]);
	if (role < DP_ROLE_VIEWER)
		return usage_error("unknown role (viewer, operator, admin)", o->pos[2]);
	struct dp_store_user u;
	if (need_user(s, o->pos[1], &u))
		return 1;
	int ret = dp_store_user_set_role(s, u.id, role, (int64_t)time(NULL));
	audit(s, "user.update", u.username,
	      ret == 0        ? DP_AUDIT_OK
	      : ret == -EBUSY ? DP_AUDIT_DENIED
	                      : DP_AUDIT_FAILED,
	      json_pack("{s:s}", "role", dp_role_name(role)));
	if (ret == -EBUSY) {
		fprintf(stderr, "daemonpulse: cannot demote the last admin '%s'\n", u.username);
		return 1;
	}
	if (ret < 0) {
		fprintf(stderr, "daemonpulse: cannot change the role of '%s'\n", u.username);
		return 1;
	}
	fprintf(stderr, "'%s' is now %s\n", u.username, dp_role_name(role));
	return 0;
}

static int cmd_remove(struct dp_store *s, const struct opts *o)
{
	struct dp_store_user u;
	if (need_user(s, o->pos[1], &u))
		return 1;
	int ret = dp_store_user_delete(s, u.id);
	audit(s, "user.delete", u.username,
	      ret == 0        ? DP_AUDIT_OK
	      : ret == -EBUSY ? DP_AUDIT_DENIED
	                      : DP_AUDIT_FAILED,
	      NULL);
	if (ret == -EBUSY) {
		fprintf(stderr, "daemonpulse: cannot remove the last admin '%s'\n", u.username);
		return 1;
	}
	if (ret < 0) {
		fprintf(stderr, "daemonpulse: cannot remove '%s'\n", u.username);
		return 1;
	}
	fprintf(stderr, "removed '%s' with their sessions and API tokens\n", u.username);
	return 0;
}

static json_t *time_json(int64_t t)
{
	return dp_auth_time_json(t);
}

static int list_json(const struct dp_store_user *u, void *arg)
{
	json_array_append_new(arg, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)u->id, "username",
	                                     u->username, "role", dp_role_name(u->role), "created_at",
	                                     time_json(u->created_at), "updated_at", time_json(u->updated_at),
	                                     "last_login_at", time_json(u->last_login_at)));
	return 0;
}

static int list_text(const struct dp_store_user *u, void *arg)
{
	json_t *c = time_json(u->created_at), *l = time_json(u->last_login_at);
	printf("%-6lld %-24s %-9s %-21s %s\n", (long long)u->id, u->username, dp_role_name(u->role),
	       json_is_string(c) ? json_string_value(c) : "-", json_is_string(l) ? json_string_value(l) : "never");
	json_decref(c);
	json_decref(l);
	return 0;
}

static int cmd_list(struct dp_store *s, const struct opts *o)
{
	if (o->json) {
		json_t *arr = json_array();
		int ret = dp_store_user_each(s, list_json, arr);
		json_t *out = json_pack("{s:o}", "users", arr);
		if (ret == 0)
			json_dumpf(out, stdout, JSON_INDENT(2));
		json_decref(out);
		if (ret == 0)
			putchar('\n');
		return ret == 0 ? 0 : 1;
	}
	printf("%-6s %-24s %-9s %-21s %s\n", "ID", "USERNAME", "ROLE", "CREATED", "LAST LOGIN");
	return dp_store_user_each(s, list_text, NULL) == 0 ? 0 : 1;
}

/* Options of `user` and `db`: an exit code to return now (a usage error,
 * --help, no command word), or -1 to go on with o->pos[0]. */
static int parse_command(int argc, char **argv, struct opts *o)
{
	int rc = parse(argc, argv, 1, o);
	if (rc)
		return rc;
	if (o->help || o->npos == 0) {
		print_usage(o->help ? stdout : stderr);
		return o->help ? 0 : 2;
	}
	return -1;
}

int dp_cli_user(int argc, char **argv)
{
	struct opts o;
	int rc = parse_command(argc, argv, &o);
	if (rc >= 0)
		return rc;
	const char *cmd = o.pos[0];
	int want; /* positional arguments after the command word */
	if (strcmp(cmd, "list") == 0)
		want = 0;
	else if (strcmp(cmd, "add") == 0 || strcmp(cmd, "passwd") == 0 || strcmp(cmd, "remove") == 0)
		want = 1;
	else if (strcmp(cmd, "role") == 0)
		want = 2;
	else
		return usage_error("unknown user command", cmd);
	if (o.npos - 1 != want)
		return usage_error(want == 2 ? "expected NAME ROLE"
		                   : want    ? "expected one NAME"
		                             : "unexpected argument",
		                   NULL);
	if (o.role && strcmp(cmd, "add") != 0)
		return usage_error("--role is for 'user add'; use 'user role NAME ROLE'", NULL);
	if ((o.password_stdin && strcmp(cmd, "add") != 0 && strcmp(cmd, "passwd") != 0) ||
	    (o.json && strcmp(cmd, "list") != 0) || o.force || o.username)
		return usage_error("option not valid here", cmd);
	int role = DP_ROLE_VIEWER;
	if (o.role && (role = dp_role_parse(o.role)) < DP_ROLE_VIEWER)
		return usage_error("unknown role (viewer, operator, admin)", o.role);
	if (want >= 1 && !dp_auth_username_valid(o.pos[1]))
		return usage_error("invalid username (1-64 of a-z A-Z 0-9 . _ -)", o.pos[1]);
	if (sodium_init() < 0) {
		fprintf(stderr, "daemonpulse: cannot initialise libsodium\n");
		return 1;
	}
	struct dp_store *s = open_db(&o);
	if (!s)
		return 1;
	if (strcmp(cmd, "list") == 0)
		rc = cmd_list(s, &o);
	else if (strcmp(cmd, "add") == 0)
		rc = create_user(s, o.pos[1], role, &o);
	else if (strcmp(cmd, "passwd") == 0)
		rc = cmd_passwd(s, &o);
	else if (strcmp(cmd, "remove") == 0)
		rc = cmd_remove(s, &o);
	else
		rc = cmd_role(s, &o);
	dp_store_free(s);
	return rc;
}

/* ------------------------------------------------------------------ db */

static double mib(int64_t pages, int64_t page_size)
{
	return (double)pages * (double)page_size / 1048576.0;
}

int dp_cli_db(int argc, char **argv)
{
	struct opts o;
	int rc = parse_command(argc, argv, &o);
	if (rc >= 0)
		return rc;
	const char *cmd = o.pos[0];
	if (strcmp(cmd, "info") != 0 && strcmp(cmd, "vacuum") != 0)
		return usage_error("unknown db command (info, vacuum)", cmd);
	if (o.npos != 1)
		return usage_error("unexpected argument", o.pos[1]);
	if ((o.json && strcmp(cmd, "info") != 0) || o.force || o.username || o.role || o.password_stdin)
		return usage_error("option not valid here", cmd);
	struct dp_store *s = open_db(&o);
	if (!s)
		return 1;
	struct dp_store_space a, b;
	if (dp_store_space(s, &a) < 0) {
		fprintf(stderr, "daemonpulse: cannot read the database's size\n");
		dp_store_free(s);
		return 1;
	}
	static const char *const modes[] = {"none", "full", "incremental"};
	const char *mode = a.auto_vacuum >= 0 && a.auto_vacuum <= 2 ? modes[a.auto_vacuum] : "?";
	if (strcmp(cmd, "info") == 0) {
		if (o.json) {
			json_t *out = json_pack("{s:i,s:I,s:I,s:I,s:s}", "schema_version", dp_store_version(s),
			                        "page_size", (json_int_t)a.page_size, "pages", (json_int_t)a.pages,
			                        "free_pages", (json_int_t)a.free_pages, "auto_vacuum", mode);
			json_dumpf(out, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(out);
		} else {
			printf("schema version %d\nsize %.1f MiB (%lld pages of %lld bytes)\nfree %.1f MiB (%lld "
			       "pages)\n"
			       "auto-vacuum %s\n",
			       dp_store_version(s), mib(a.pages, a.page_size), (long long)a.pages,
			       (long long)a.page_size, mib(a.free_pages, a.page_size), (long long)a.free_pages, mode);
		}
		dp_store_free(s);
		return 0;
	}
	char *err = NULL;
	rc = dp_store_vacuum(s, &err);
	if (rc < 0) {
		fprintf(stderr, "daemonpulse: %s\n", err ? err : "VACUUM failed");
		free(err);
		dp_store_free(s);
		return 1;
	}
	if (dp_store_space(s, &b) < 0)
		b = a;
	printf("vacuumed: %.1f MiB -> %.1f MiB; auto-vacuum %s -> %s\n", mib(a.pages, a.page_size),
	       mib(b.pages, b.page_size), mode, b.auto_vacuum == 2 ? "incremental" : "unchanged");
	dp_store_free(s);
	return 0;
}
