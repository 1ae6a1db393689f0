// http::Client (libcurl, loaded on first use) against a small HTTP(S) server on loopback (real
// TLS, a throw-away CA) that numbers its connections and misbehaves on request, and a forward
// proxy (absolute-form requests and CONNECT tunnels) that says what went through it. The proxies
// come from the process environment, as libcurl reads them.
#include "certs.hpp"
#include "cloud_support.hpp"
#include "unwrap.hpp"

#include <aliot/endpoint.hpp>
#include <aliot/http.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>

using namespace aliot;
using namespace aliot::test;
using json = nlohmann::json;

namespace {

// The server: `server.py CERT KEY` serves HTTPS (plain HTTP without arguments) on 127.0.0.1 and
// 127.0.0.2 and prints both ports. Paths: /echo (JSON of the request and the connection's
// number), /chunked, /close (no length, the connection closed), /continue (a 100 first),
// /continue2 (a 100 and a 103 first), /endless1xx (after a 100, a head that never ends),
// /endlesstrailer (a chunked reply whose trailer never ends), /drop
// (keep-alive announced, then the connection closed), /big (2 MiB), /garbage (not HTTP),
// /stall (no answer).
constexpr const char* k_server = R"(
import json, socket, ssl, sys, threading, time
ctx = None
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
count = [0]
lock = threading.Lock()
def read_request(f):
    line = f.readline()
    if not line:
        return None
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, v = h.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return line.decode().strip(), headers, body.decode()
def serve(c):
    with lock:
        count[0] += 1
        n = count[0]
    try:
        if ctx:
            c = ctx.wrap_socket(c, server_side=True)
        f = c.makefile("rb")
        while True:
            r = read_request(f)
            if r is None:
                break
            line, headers, body = r
            path = line.split()[1].split("?")[0]
            if path == "/echo":
                b = json.dumps({"conn": n, "line": line, "headers": headers, "body": body}).encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
            elif path == "/chunked":
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n")
                time.sleep(0.05)
                c.sendall(b"7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n")
            elif path == "/close":
                c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
                break
            elif path == "/continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
            elif path == "/continue2":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes")
            elif path == "/endless1xx":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
                while True:
                    c.sendall(b"X-Pad: " + b"p" * 1000 + b"\r\n")
            elif path == "/endlesstrailer":
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: ")
                while True:
                    c.sendall(b"t" * 4096)
            elif path == "/drop":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndrop")
                break
            elif path == "/big":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n" + b"x" * 2097152)
            elif path == "/garbage":
                c.sendall(b"hello, this is not HTTP\r\n\r\n")
                break
            elif path == "/stall":
                time.sleep(30)
                break
    except Exception:
        pass
    finally:
        try:
            c.close()
        except Exception:
            pass
def listen(host):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(16)
    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]
print(listen("127.0.0.1"), listen("127.0.0.2"), flush=True)
threading.Event().wait()
)";

// The forward proxy: prints its port, then one line per request it handles ("CONNECT host:port"
// or the request line of an absolute-form request). CONNECT is tunnelled; an absolute-form
// request is answered by the proxy itself: 200 "proxied <request line>".
constexpr const char* k_proxy = R"(
import socket, sys, threading
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except Exception:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except Exception:
            pass
def serve(c):
    f = c.makefile("rb")
    line = f.readline().decode().strip()
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, v = h.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    print(line, flush=True)
    if line.startswith("CONNECT "):
        host, port = line.split()[1].rsplit(":", 1)
        u = socket.create_connection((host, int(port)))
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()
        pipe(c, u)
        return
    f.read(int(headers.get("content-length", "0")))
    b = ("proxied " + line).encode()
    c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
)";

// The proxy variables libcurl reads, unset for the life of a ProxyEnv (a test sets the ones it
// wants with set()) and restored afterwards: the tests in this file run in one thread.
class ProxyEnv {
public:
  ProxyEnv() {
    for (const char* name : k_names) {
      if (const char* v = std::getenv(name); v != nullptr) {
        m_saved.emplace_back(name, v);
      }
      ::unsetenv(name);
    }
  }
  ~ProxyEnv() {
    for (const char* name : k_names) {
      ::unsetenv(name);
    }
    for (const auto& [k, v] : m_saved) {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }
  ProxyEnv(const ProxyEnv&) = delete;
  ProxyEnv& operator=(const ProxyEnv&) = delete;
  // Sets exactly these (the others unset).
  static void set(const std::map<std::string, std::string>& vars) {
    for (const char* name : k_names) {
      ::unsetenv(name);
    }
    for (const auto& [k, v] : vars) {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
  }

private:
  static constexpr const char* k_names[] = {"http_proxy",  "HTTP_PROXY", "https_proxy",
                                            "HTTPS_PROXY", "all_proxy",  "ALL_PROXY",
                                            "no_proxy",    "NO_PROXY"};
  std::vector<std::pair<std::string, std::string>> m_saved;
};

std::string write_script(const TempDir& dir, const std::string& name, const char* text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

class HttpClient : public ::testing::Test {
protected:
  void SetUp() override {
    pki = make_test_certs(dir.path());
    https = std::make_unique<Background>(std::vector<std::string>{
        "python3", write_script(dir, "server.py", k_server), pki.server, pki.server_key});
    plain = std::make_unique<Background>(
        std::vector<std::string>{"python3", write_script(dir, "server.py", k_server)});
    const std::pair<Background*, std::pair<std::string, std::string>*> servers[] = {
        {https.get(), &https_ports}, {plain.get(), &plain_ports}};
    for (const auto& [srv, ports] : servers) {
      const auto line = srv->read_line(std::chrono::seconds(10));
      ASSERT_TRUE(line.has_value()) << srv->err();
      const auto sp = line->find(' ');
      *ports = {line->substr(0, sp), line->substr(sp + 1)};
    }
  }

  // A client as rrpc call makes it, trusting the test CA.
  http::ClientOptions options() const {
    http::ClientOptions o;
    o.ca_file = pki.ca;
    return o;
  }
  std::string https_url(const std::string& path, const std::string& host = "127.0.0.1") const {
    return "https://" + host + ":" + (host == "127.0.0.2" ? https_ports.second : https_ports.first)
           + path;
  }
  std::string http_url(const std::string& path) const {
    return "http://127.0.0.1:" + plain_ports.first + path;
  }
  static http::Request post(const std::string& url, const std::string& body = "a=1&b=2") {
    http::Request r;
    r.url = url;
    r.body = body;
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    return r;
  }
  static http::Request get(const std::string& url) {
    http::Request r;
    r.method = "GET";
    r.url = url;
    return r;
  }

  ProxyEnv proxy_env; // no proxy unless a test sets one
  TempDir dir;
  TestCerts pki;
  std::unique_ptr<Background> https;
  std::unique_ptr<Background> plain;
  std::pair<std::string, std::string> https_ports;
  std::pair<std::string, std::string> plain_ports;
};

} // namespace

TEST_F(HttpClient, PostsOverVerifiedTlsAndKeepsTheConnection) {
  http::Client c(options());
  const auto r1 = unwrap(c.send(post(https_url("/echo"))));
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r1.content_type, "application/json");
  const auto j1 = json::parse(r1.body);
  EXPECT_EQ(j1["line"], "POST /echo HTTP/1.1");
  EXPECT_EQ(j1["body"], "a=1&b=2");
  EXPECT_EQ(j1["headers"]["host"], "127.0.0.1:" + https_ports.first);
  EXPECT_EQ(j1["headers"]["content-type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(j1["headers"]["content-length"], "7");
  EXPECT_EQ(j1["headers"]["user-agent"].get<std::string>().rfind("aliot/", 0), 0u);
  EXPECT_FALSE(j1["headers"].contains("expect"));
  // The second request rides on the same connection.
  const auto j2 = json::parse(unwrap(c.send(get(https_url("/echo?x=1")))).body);
  EXPECT_EQ(j2["line"], "GET /echo?x=1 HTTP/1.1");
  EXPECT_EQ(j2["conn"], j1["conn"]);
}

TEST_F(HttpClient, ChecksTheCertificateAndTheHostName) {
  auto o = options();
  o.ca_file = pki.other_ca;
  http::Client untrusted(o);
  auto r = untrusted.send(post(https_url("/echo")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::network);
  EXPECT_NE(r.error().message().find("TLS"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().hint().find(pki.other_ca), std::string::npos) << r.error().hint();

  // Without a CA file: the system store, which does not hold the test CA.
  o.ca_file.clear();
  http::Client system_store(o);
  r = system_store.send(post(https_url("/echo")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::network);
  EXPECT_NE(r.error().hint().find("system store"), std::string::npos) << r.error().hint();

  // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
  http::Client c(options());
  r = c.send(post(https_url("/echo", "127.0.0.2")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::network);
  EXPECT_NE(r.error().message().find("TLS"), std::string::npos) << r.error().message();
  // By name (SNI and the name check) it verifies.
  EXPECT_EQ(unwrap(c.send(post(https_url("/echo", "localhost")))).status, 200);

  o.insecure = true;
  http::Client insecure(o);
  EXPECT_EQ(unwrap(insecure.send(post(https_url("/echo", "127.0.0.2")))).status, 200);
}

TEST_F(HttpClient, ReadsChunkedClosingAndContinuedReplies) {
  for (const bool tls : {true, false}) {
    SCOPED_TRACE(tls ? "https" : "http");
    http::Client c(options());
    auto url = [&](const std::string& p) {
      return tls ? https_url(p) : http_url(p);
    };
    EXPECT_EQ(unwrap(c.send(get(url("/chunked")))).body, "hello, world");
    const auto closing = unwrap(c.send(get(url("/close"))));
    EXPECT_EQ(closing.body, "until the end");
    const auto cont = unwrap(c.send(post(url("/continue"))));
    EXPECT_EQ(cont.status, 201);
    EXPECT_EQ(cont.body, "ok");
    const auto cont2 = unwrap(c.send(post(url("/continue2"))));
    EXPECT_EQ(cont2.status, 200);
    EXPECT_EQ(cont2.body, "yes");
    // A kept connection the server dropped after its reply: the next request still goes out.
    const int conn = json::parse(unwrap(c.send(get(url("/echo")))).body)["conn"];
    EXPECT_EQ(unwrap(c.send(get(url("/drop")))).body, "drop");
    const int after = json::parse(unwrap(c.send(get(url("/echo")))).body)["conn"];
    EXPECT_GT(after, conn);
  }
}

TEST_F(HttpClient, RefusesOversizedAndMalformedRepliesAndTimesOut) {
  http::Client c(options());
  auto r = c.send(get(https_url("/big")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::remote);
  EXPECT_NE(r.error().message().find("larger than 1024 KiB"), std::string::npos);
  // A head after a 1xx, or a trailer, that never ends is refused at the bound, not read on.
  for (const char* path : {"/endless1xx", "/endlesstrailer"}) {
    SCOPED_TRACE(path);
    r = c.send(get(http_url(path)));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), Errc::remote) << r.error().message();
  }
  r = c.send(get(http_url("/garbage")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::remote);
  EXPECT_NE(r.error().message().find("not well-formed HTTP"), std::string::npos);
  auto stall = get(https_url("/stall"));
  stall.timeout_ms = 300;
  r = c.send(stall);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::timeout);
  r = c.send(get("http://127.0.0.1:" + std::to_string(free_port()) + "/"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::network);
  // A name that cannot exist (RFC 6761).
  r = c.send(get("https://aliot-test.invalid/"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::network) << r.error().message();
  EXPECT_NE(r.error().hint().find("DNS"), std::string::npos) << r.error().message();
  // And the client still works.
  EXPECT_EQ(unwrap(c.send(get(https_url("/echo")))).status, 200);
}

TEST_F(HttpClient, TheStopFlagAbandonsARequest) {
  std::atomic<bool> stop{true};
  auto o = options();
  o.stop = &stop;
  http::Client c(o);
  const auto r = c.send(get(https_url("/stall")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Errc::interrupted);
}

TEST_F(HttpClient, AProxyThatAppliesIsUsedAndNoProxySkipsIt) {
  Background proxy({"python3", write_script(dir, "proxy.py", k_proxy)});
  const auto port = proxy.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << proxy.err();
  const std::string proxy_url = "http://127.0.0.1:" + *port;

  ProxyEnv::set({{"http_proxy", proxy_url}});
  http::Client via(options());
  const auto r = unwrap(via.send(post(http_url("/echo"))));
  EXPECT_EQ(r.body, "proxied POST " + http_url("/echo") + " HTTP/1.1");
  EXPECT_EQ(proxy.read_line(std::chrono::seconds(5)), "POST " + http_url("/echo") + " HTTP/1.1");

  // https through the tunnel, verified end to end against the server's certificate.
  ProxyEnv::set({{"all_proxy", proxy_url}});
  http::Client tunnel(options());
  const auto t = json::parse(unwrap(tunnel.send(post(https_url("/echo")))).body);
  EXPECT_EQ(t["line"], "POST /echo HTTP/1.1");
  EXPECT_EQ(proxy.read_line(std::chrono::seconds(5)),
            "CONNECT 127.0.0.1:" + https_ports.first + " HTTP/1.1");

  for (const std::string no : {"127.0.0.1", "example.com, 127.0.0.1", "*"}) {
    SCOPED_TRACE(no);
    ProxyEnv::set({{"http_proxy", proxy_url}, {"https_proxy", proxy_url}, {"no_proxy", no}});
    http::Client direct(options());
    EXPECT_EQ(json::parse(unwrap(direct.send(post(http_url("/echo")))).body)["line"],
              "POST /echo HTTP/1.1");
  }
  // A leading dot names the domain (and the host of that name).
  ProxyEnv::set({{"https_proxy", proxy_url}, {"no_proxy", ".localhost"}});
  http::Client direct(options());
  EXPECT_EQ(json::parse(unwrap(direct.send(post(https_url("/echo", "localhost")))).body)["line"],
            "POST /echo HTTP/1.1");
  EXPECT_FALSE(proxy.read_line(std::chrono::milliseconds(300)).has_value()) << proxy.out();
}

// The variables are read as curl reads them (and as the man page says): upper-case HTTP_PROXY
// is not read, HTTPS_PROXY and ALL_PROXY are, the lower-case name wins over the upper-case one.
TEST_F(HttpClient, TheProxyVariablesAreReadAsCurlReadsThem) {
  Background proxy({"python3", write_script(dir, "proxy.py", k_proxy)});
  const auto port = proxy.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << proxy.err();
  const std::string proxy_url = "http://127.0.0.1:" + *port;
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(free_port());

  ProxyEnv::set({{"HTTP_PROXY", proxy_url}});
  EXPECT_EQ(json::parse(unwrap(http::Client(options()).send(post(http_url("/echo")))).body)["line"],
            "POST /echo HTTP/1.1");

  ProxyEnv::set({{"HTTPS_PROXY", proxy_url}});
  EXPECT_EQ(unwrap(http::Client(options()).send(post(https_url("/echo")))).status, 200);
  EXPECT_EQ(proxy.read_line(std::chrono::seconds(5)),
            "CONNECT 127.0.0.1:" + https_ports.first + " HTTP/1.1");

  ProxyEnv::set({{"ALL_PROXY", proxy_url}});
  EXPECT_EQ(unwrap(http::Client(options()).send(post(http_url("/echo")))).body,
            "proxied POST " + http_url("/echo") + " HTTP/1.1");
  EXPECT_EQ(proxy.read_line(std::chrono::seconds(5)), "POST " + http_url("/echo") + " HTTP/1.1");

  // all_proxy (lower case) wins over ALL_PROXY, which points nowhere; NO_PROXY is read too.
  ProxyEnv::set({{"ALL_PROXY", nowhere}, {"all_proxy", proxy_url}});
  EXPECT_EQ(unwrap(http::Client(options()).send(post(http_url("/echo")))).body,
            "proxied POST " + http_url("/echo") + " HTTP/1.1");
  EXPECT_EQ(proxy.read_line(std::chrono::seconds(5)), "POST " + http_url("/echo") + " HTTP/1.1");
  ProxyEnv::set({{"all_proxy", nowhere}, {"NO_PROXY", "127.0.0.1"}});
  EXPECT_EQ(unwrap(http::Client(options()).send(post(http_url("/echo")))).status, 200);
  EXPECT_FALSE(proxy.read_line(std::chrono::milliseconds(300)).has_value()) << proxy.out();
}

// `aliot rrpc call` keeps working behind a proxy: https_proxy from the environment, the call
// tunnelled (CONNECT) to the platform, its certificate verified against --ca-file.
TEST_F(HttpClient, RrpcCallGoesThroughTheEnvironmentsProxy) {
  FakePlatform platform;
  Background proxy({"python3", write_script(dir, "proxy.py", k_proxy)});
  const auto port = proxy.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port.has_value()) << proxy.err();
  auto env = platform.env();
  env["https_proxy"] = "http://127.0.0.1:" + *port;
  const auto r = run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "ping"}, {.env = env});
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string authority = platform.url().substr(std::string("https://").size());
  EXPECT_EQ(proxy.read_line(std::chrono::seconds(5)), "CONNECT " + authority + " HTTP/1.1");

  env["no_proxy"] = "127.0.0.1";
  const auto direct =
      run_aliot({"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "ping"}, {.env = env});
  EXPECT_EQ(direct.status, 0) << direct.err;
  EXPECT_FALSE(proxy.read_line(std::chrono::milliseconds(300)).has_value()) << proxy.out();
}

// A URL libcurl cannot use is the user's configuration, not the network: exit 3 with one line.
TEST(HttpEndpoint, APortPastEveryNumberIsAConfigurationError) {
  const Env env{{"ALIOT_API_ENDPOINT", "https://h:99999999999999999999/"},
                {"ALIOT_AUTH_ENDPOINT", "https://h:99999999999999999999/"},
                {"ALIOT_PRODUCT_SECRET", "psOverflow0123456"},
                {"ALIOT_ACCESS_KEY_ID", "LTAIoverflow01"},
                {"ALIOT_ACCESS_KEY_SECRET", "akOverflow0123456789"}};
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"rrpc", "call", "-k", k_pk, "-d", "dev1", "-m", "ping"},
           {"cloud", "pub", "-k", k_pk, "-d", "dev1", "-t", "user/get", "-m", "x"},
           {"register", "-k", k_pk, "-d", "dev1"}}) {
    SCOPED_TRACE(args[0]);
    const auto r = run_aliot(args, {.env = env});
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind("aliot: error: ", 0), 0U) << r.err;
    EXPECT_NE(r.err.find("99999999999999999999"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("bug"), std::string::npos) << r.err;
  }
}

TEST(HttpEndpoint, IsCheckedWithoutExceptionsForAnyPort) {
  const std::string what = "the OpenAPI endpoint";
  const std::string setting = "ALIOT_API_ENDPOINT";
  for (const char* good :
       {"https://iot.cn-shanghai.aliyuncs.com", "https://127.0.0.1:8443/", "http://[::1]:80/x",
        "HTTPS://h:65535?q", "https://h:1#f", "https://h:/"}) {
    EXPECT_TRUE(check_http_endpoint(good, what, setting).has_value()) << good;
  }
  for (const char* bad :
       {"https://h:99999999999999999999/", "https://h:65536", "https://h:0", "https://h:-1",
        "https://h:8a", "https://:443", "https://[::1", "https://[::1]x", "ftp://h", "h:443", ""}) {
    const auto r = check_http_endpoint(bad, what, setting);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), Errc::config) << bad;
    EXPECT_NE(r.error().hint().find(setting), std::string::npos);
  }
}
