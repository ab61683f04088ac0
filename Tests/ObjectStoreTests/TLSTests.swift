import Foundation
import NIOCore
import Testing
import TestSupport
@testable import ObjectStore

/// HTTPS with certificate verification: a Python TLS terminator with a self-signed
/// certificate in front of SeaweedFS. Without the CA the store refuses the server;
/// with `caCertificateFile` it works.
@Suite("TLS", .enabled(if: S3Test.available))
struct TLSTests {
    static let terminator = """
        import socket, ssl, sys, threading
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
        upstream = int(sys.argv[3])
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        print(ls.getsockname()[1], flush=True)
        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except Exception:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except Exception:
                    pass
        def handle(c):
            try:
                t = ctx.wrap_socket(c, server_side=True)
            except Exception:
                c.close()
                return
            u = socket.create_connection(("127.0.0.1", upstream))
            threading.Thread(target=pump, args=(t, u), daemon=True).start()
            pump(u, t)
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()
        """

    @Test func certificateIsVerifiedAndCustomCAIsHonoured() async throws {
        try await S3Test.withBucket("tls") { direct in
            let python = try #require(TestEnvironment.python)
            let endpoint = try #require(TestEnvironment.s3Endpoint)
            let upstream = try #require(URLComponents(string: endpoint)?.port)
            let dir = try TestEnvironment.temporaryDirectory("tls")
            let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
            try await ProcessRunner.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                                                       "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                                                       "-addext", "subjectAltName=IP:127.0.0.1"])
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", Self.terminator, cert, key, String(upstream)]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            defer {
                // SIGKILL: the child may inherit a mask blocking SIGTERM from the spawning thread.
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            // Blocking read of the port line, off the cooperative pool.
            let reader = out.fileHandleForReading
            let line: Data = await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    var line = Data()
                    while !line.contains(UInt8(ascii: "\n")) {
                        let chunk = reader.availableData
                        if chunk.isEmpty { break }
                        line.append(chunk)
                    }
                    continuation.resume(returning: line)
                }
            }
            let port = try #require(Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))

            var config = direct.configuration
            config.endpoint = "https://127.0.0.1:\(port)"
            config.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5))
            let untrusting = try S3ObjectStore(configuration: config)
            await #expect { try await untrusting.put(key: "tls.bin", bytes: [1, 2, 3]) } throws: { error in
                guard let e = error as? ObjectStoreError else { return false }
                return e.code == .invalidConfiguration && e.attempts == 1 && e.message.contains("caCertificateFile")
            }
            try await untrusting.shutdown()

            config.caCertificateFile = cert
            let trusting = try S3ObjectStore(configuration: config)
            let data = randomBytes(100_000, seed: 17)
            try await trusting.put(key: "tls.bin", bytes: data)
            #expect(try await trusting.get(key: "tls.bin").bytes == data)
            try await trusting.shutdown()
            #expect(try await direct.get(key: "tls.bin").bytes == data)
        }
    }
}
