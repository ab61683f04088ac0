import Foundation

/// A throw-away CA (openssl CLI), a server certificate for 127.0.0.1/localhost, one for
/// other.example and a client certificate; `server(…)` starts a TLS-only redis-server with them.
public final class TLSCertificates: @unchecked Sendable {
    public let dir: URL
    public var ca: String { dir.appendingPathComponent("ca.crt").path }
    public func crt(_ name: String) -> String { dir.appendingPathComponent("\(name).crt").path }
    public func key(_ name: String) -> String { dir.appendingPathComponent("\(name).key").path }

    public init() throws {
        dir = try TestEnvironment.temporaryDirectory("tls")
        func ssl(_ args: [String]) throws { try ProcessRunner.run("/usr/bin/openssl", args) }
        try ssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key("ca"), "-out", ca, "-days", "2",
                 "-subj", "/CN=lakewriter test CA"])
        for (name, san) in [("server", "IP:127.0.0.1,DNS:localhost"), ("other", "DNS:other.example"), ("client", "DNS:client")] {
            try ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key(name), "-out", dir.appendingPathComponent("\(name).csr").path,
                     "-subj", "/CN=\(name)"])
            let ext = dir.appendingPathComponent("\(name).ext")
            try "subjectAltName=\(san)\n".write(to: ext, atomically: true, encoding: .utf8)
            try ssl(["x509", "-req", "-in", dir.appendingPathComponent("\(name).csr").path, "-CA", ca, "-CAkey", key("ca"),
                     "-CAcreateserial", "-out", crt(name), "-days", "2", "-extfile", ext.path])
        }
    }

    public func server(_ cert: String = "server", clients: String = "no", password: String? = nil) throws -> RedisServerProcess {
        try RedisServerProcess(["--port", "0", "--tls-port", "PORT", "--tls-cert-file", crt(cert), "--tls-key-file", key(cert),
                                "--tls-ca-cert-file", ca, "--tls-auth-clients", clients]
                               + (password.map { ["--requirepass", $0] } ?? []))
    }
}
