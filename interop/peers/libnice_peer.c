/*
 * A libnice peer for the interop tests (interop/tests/libnice.rs).
 *
 * One NiceAgent (RFC 5245 compatibility), one stream of one component, on
 * 127.0.0.1 only, in the role given on the command line. It speaks the
 * line protocol of interop/peers/aioice_peer.py: commands on stdin
 * (remote, candidate, end, send, recv, close), JSON lines on stdout
 * (local, candidate, gathered, connected, sent, received, error).
 *
 *   libnice_peer --role controlling|controlled --nomination regular|aggressive
 *
 * The test compiles it with the system compiler and pkg-config's flags for
 * "nice", passing -DPEER_VERSION (pkg-config --modversion nice).
 */
#include <agent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PEER_VERSION
#define PEER_VERSION "unknown"
#endif

static GMainLoop *loop;
static NiceAgent *agent;
static guint stream_id;
static GSList *remote_candidates;
static gboolean connected;
static gboolean checks_started;
static guint pending_recv; /* "recv" commands still waiting for data */
static GQueue received = G_QUEUE_INIT;
/* The JSON lines go here: the original stdout. Everything else that
 * writes to stdout (GLib's debug log) is sent to stderr instead. */
static FILE *out;

/* Prints a JSON string; candidate lines and credentials are ASCII, but
 * quote whatever comes anyway. */
static void json_string(const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void say_error(const char *message) {
    fputs("{\"type\":\"error\",\"message\":", out);
    json_string(message);
    fprintf(out, "%s\n", "}");
    fflush(out);
    exit(1);
}

static void say_received(GBytes *data) {
    gsize len;
    const char *bytes = g_bytes_get_data(data, &len);
    char *text = g_strndup(bytes, len);
    fputs("{\"type\":\"received\",\"data\":", out);
    json_string(text);
    fprintf(out, "%s\n", "}");
    fflush(out);
    g_free(text);
    g_bytes_unref(data);
}

static const char *type_name(NiceCandidateType t) {
    switch (t) {
    case NICE_CANDIDATE_TYPE_HOST: return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED: return "relay";
    }
    return "unknown";
}

static void print_endpoint(const char *key, NiceCandidate *c) {
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(&c->addr, ip);
    fprintf(out, "\"%s\":\"%s:%u\",\"%s_type\":\"%s\"", key, ip,
           nice_address_get_port(&c->addr), key, type_name(c->type));
}

static void on_gathering_done(NiceAgent *a, guint id, gpointer data) {
    (void)data;
    GSList *locals = nice_agent_get_local_candidates(a, id, 1);
    for (GSList *i = locals; i; i = i->next) {
        char *sdp = nice_agent_generate_local_candidate_sdp(a, i->data);
        /* "a=candidate:..." */
        const char *line = g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp;
        fputs("{\"type\":\"candidate\",\"candidate\":", out);
        json_string(line);
        fprintf(out, "%s\n", "}");
        g_free(sdp);
    }
    g_slist_free_full(locals, (GDestroyNotify)nice_candidate_free);
    fprintf(out, "%s\n", "{\"type\":\"gathered\"}");
    fflush(out);
}

static void on_state(NiceAgent *a, guint id, guint component, guint state,
                     gpointer data) {
    (void)data;
    if (state == NICE_COMPONENT_STATE_FAILED)
        say_error("the component failed (no pair succeeded)");
    if (state != NICE_COMPONENT_STATE_READY || connected)
        return;
    NiceCandidate *local = NULL, *remote = NULL;
    if (!nice_agent_get_selected_pair(a, id, component, &local, &remote))
        say_error("READY without a selected pair");
    connected = TRUE;
    fputs("{\"type\":\"connected\",", out);
    print_endpoint("local", local);
    fputc(',', out);
    print_endpoint("remote", remote);
    fprintf(out, "%s\n", "}");
    fflush(out);
}

static void on_recv(NiceAgent *a, guint id, guint component, guint len,
                    gchar *buf, gpointer data) {
    (void)a; (void)id; (void)component; (void)data;
    GBytes *bytes = g_bytes_new(buf, len);
    if (pending_recv > 0) {
        pending_recv--;
        say_received(bytes);
    } else {
        g_queue_push_tail(&received, bytes);
    }
}

static void command(char *line) {
    g_strchomp(line);
    char *rest = strchr(line, ' ');
    if (rest)
        *rest++ = '\0';
    else
        rest = "";
    if (strcmp(line, "remote") == 0) {
        char *pwd = strchr(rest, ' ');
        if (!pwd)
            say_error("remote: expected <ufrag> <pwd>");
        *pwd++ = '\0';
        if (!nice_agent_set_remote_credentials(agent, stream_id, rest, pwd))
            say_error("libnice refused the remote credentials");
    } else if (strcmp(line, "candidate") == 0) {
        /* libnice parses only the whole attribute line, "a=candidate:". */
        char *sdp = g_str_has_prefix(rest, "a=") ? g_strdup(rest) : g_strconcat("a=", rest, NULL);
        NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(agent, stream_id, sdp);
        g_free(sdp);
        if (!c) {
            char *why = g_strdup_printf("libnice cannot parse the candidate %s", rest);
            say_error(why);
        }
        remote_candidates = g_slist_append(remote_candidates, c);
    } else if (strcmp(line, "end") == 0) {
        if (checks_started)
            say_error("end twice");
        checks_started = TRUE;
        int added = nice_agent_set_remote_candidates(agent, stream_id, 1, remote_candidates);
        if (added < (int)g_slist_length(remote_candidates))
            say_error("libnice did not take every remote candidate");
    } else if (strcmp(line, "send") == 0) {
        if (nice_agent_send(agent, stream_id, 1, strlen(rest), rest) < 0)
            say_error("nice_agent_send failed");
        fprintf(out, "%s\n", "{\"type\":\"sent\"}");
        fflush(out);
    } else if (strcmp(line, "recv") == 0) {
        GBytes *queued = g_queue_pop_head(&received);
        if (queued)
            say_received(queued);
        else
            pending_recv++;
    } else if (strcmp(line, "close") == 0) {
        g_main_loop_quit(loop);
    } else {
        char *why = g_strdup_printf("unknown command %s", line);
        say_error(why);
    }
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer data) {
    (void)cond; (void)data;
    /* Several lines may arrive in one read: take every buffered one. */
    do {
        char *line = NULL;
        GIOStatus st = g_io_channel_read_line(ch, &line, NULL, NULL, NULL);
        if (st == G_IO_STATUS_EOF)
            say_error("the test closed stdin");
        if (st != G_IO_STATUS_NORMAL || !line)
            break; /* G_IO_STATUS_AGAIN: the rest of the line comes later */
        command(line);
        g_free(line);
    } while (g_io_channel_get_buffer_condition(ch) & G_IO_IN);
    return TRUE;
}

static gboolean on_timeout(gpointer data) {
    (void)data;
    say_error("no close within 60 s");
    return FALSE;
}

int main(int argc, char **argv) {
    int json_fd = dup(1);
    out = json_fd >= 0 ? fdopen(json_fd, "w") : NULL;
    if (!out || dup2(2, 1) < 0)
        return 2;
    gboolean controlling = FALSE, regular = TRUE, role_given = FALSE;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--role") == 0) {
            controlling = strcmp(argv[i + 1], "controlling") == 0;
            role_given = TRUE;
        } else if (strcmp(argv[i], "--nomination") == 0) {
            regular = strcmp(argv[i + 1], "aggressive") != 0;
        }
    }
    if (!role_given)
        say_error("usage: libnice_peer --role controlling|controlled "
                  "[--nomination regular|aggressive]");

    loop = g_main_loop_new(NULL, FALSE);
    NiceAgentOption options = regular ? NICE_AGENT_OPTION_REGULAR_NOMINATION
                                      : NICE_AGENT_OPTION_NONE;
    agent = nice_agent_new_full(g_main_loop_get_context(loop),
                                NICE_COMPATIBILITY_RFC5245, options);
    g_object_set(agent, "controlling-mode", controlling, "ice-tcp", FALSE,
                 "upnp", FALSE, NULL);
    NiceAddress loopback;
    nice_address_init(&loopback);
    if (!nice_address_set_from_string(&loopback, "127.0.0.1") ||
        !nice_agent_add_local_address(agent, &loopback))
        say_error("cannot use 127.0.0.1");

    g_signal_connect(agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), NULL);
    g_signal_connect(agent, "component-state-changed", G_CALLBACK(on_state), NULL);
    stream_id = nice_agent_add_stream(agent, 1);
    if (stream_id == 0)
        say_error("nice_agent_add_stream failed");
    nice_agent_attach_recv(agent, stream_id, 1, g_main_loop_get_context(loop), on_recv, NULL);

    gchar *ufrag = NULL, *pwd = NULL;
    if (!nice_agent_get_local_credentials(agent, stream_id, &ufrag, &pwd))
        say_error("no local credentials");
    fputs("{\"type\":\"local\",\"ufrag\":", out);
    json_string(ufrag);
    fputs(",\"pwd\":", out);
    json_string(pwd);
    fputs(",\"version\":", out);
    json_string(PEER_VERSION);
    fprintf(out, "%s\n", "}");
    fflush(out);
    g_free(ufrag);
    g_free(pwd);

    if (!nice_agent_gather_candidates(agent, stream_id))
        say_error("nice_agent_gather_candidates failed");

    GIOChannel *in = g_io_channel_unix_new(0);
    /* Non-blocking: a read that finds no whole line must not stall the
     * main loop that runs the checks. */
    g_io_channel_set_flags(in, G_IO_FLAG_NONBLOCK, NULL);
    g_io_add_watch(in, G_IO_IN | G_IO_HUP, on_stdin, NULL);
    g_timeout_add_seconds(60, on_timeout, NULL);
    g_main_loop_run(loop);

    g_io_channel_unref(in);
    g_slist_free_full(remote_candidates, (GDestroyNotify)nice_candidate_free);
    g_object_unref(agent);
    g_main_loop_unref(loop);
    return 0;
}
