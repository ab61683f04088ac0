import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import TestSupport
@testable import ObjectStore

/// The credential chain against loopback servers that answer as the documented endpoints do:
/// STS AssumeRoleWithWebIdentity, the container credentials endpoint and EC2 IMDSv2.
@Suite struct CredentialProviderTests {
    static let logger = Logger(label: "test.credentials", factory: { _ in SwiftLogNoOpLogHandler() })

    /// An environment that applies no source of its own: an empty HOME, instance metadata off.
    static func isolated(_ extra: [String: String] = [:]) throws -> [String: String] {
        let home = try TestEnvironment.temporaryDirectory("home").path
        return ["HOME": home, "AWS_EC2_METADATA_DISABLED": "true"].merging(extra) { _, new in new }
    }

    static func containerJSON(key: String, secret: String = "secret-\(UUID().uuidString)", token: String? = "tok",
                              expires: Date) -> String {
        var fields = ["\"AccessKeyId\": \"\(key)\"", "\"SecretAccessKey\": \"\(secret)\""]
        if let token { fields.append("\"Token\": \"\(token)\"") }
        fields.append("\"Expiration\": \"\(iso8601(expires))\"")
        fields.append("\"RoleArn\": \"arn:aws:iam::123456789012:role/lake\", \"Nested\": {\"a\": [1, 2.5e3, true, null]}")
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}"
    }

    // MARK: Precedence

    @Test func sourcesApplyInTheSDKOrder() throws {
        let dir = try TestEnvironment.temporaryDirectory("chain").path
        let tokenFile = dir + "/token"
        try "jwt".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/.aws", withIntermediateDirectories: true)
        try "[default]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"
            .write(toFile: dir + "/.aws/credentials", atomically: true, encoding: .utf8)
        var env = ["HOME": dir, "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret",
                   "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::1:role/web",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"]
        let configured = S3Credentials(accessKeyID: "AKIDCONF", secretAccessKey: "conf-secret")
        func resolve(_ configured: S3Credentials? = nil) throws -> CredentialSource {
            try CredentialChain(environment: env, region: "eu-west-1").resolve(configured: configured)
        }
        #expect(try resolve(configured) == .configured(configured))
        #expect(try resolve() == .environment(S3Credentials(accessKeyID: "AKIDENV", secretAccessKey: "env-secret")))
        env["AWS_ACCESS_KEY_ID"] = ""  // empty counts as unset
        guard case .webIdentity(let role, let file, let session, let sts) = try resolve() else {
            Issue.record("expected web identity, got \(try resolve())"); return
        }
        #expect(role == "arn:aws:iam::1:role/web" && file == tokenFile && session.hasPrefix("lakewriter-"))
        #expect(sts == "https://sts.eu-west-1.amazonaws.com")
        env["AWS_WEB_IDENTITY_TOKEN_FILE"] = nil
        #expect(try resolve() == .profile(name: "default", file: dir + "/.aws/credentials",
                                          S3Credentials(accessKeyID: "AKIDPROFILE", secretAccessKey: "profile-secret")))
        try FileManager.default.removeItem(atPath: dir + "/.aws/credentials")
        #expect(try resolve() == .container(url: "http://169.254.170.2/v2/credentials/abc", authorizationToken: nil,
                                            authorizationTokenFile: nil))
        env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = nil
        guard case .instanceMetadata("http://169.254.169.254", let fallback?) = try resolve() else {
            Issue.record("expected instance metadata, got \(try resolve())"); return
        }
        #expect(fallback.contains("container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://[fd00:ec2::254]"
        guard case .instanceMetadata("http://[fd00:ec2::254]", _) = try resolve() else { Issue.record("endpoint override"); return }

        // Nothing left: the error names every source tried and how to configure keys.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        var chain = CredentialChain(environment: env, region: "eu-west-1")
        chain.configuredKeysName = "config keys storage.access_key_id / storage.secret_access_key"
        let error = try #require(throws: ObjectStoreError.self) { try chain.resolve(configured: nil) }
        for part in ["no S3 credentials found", "storage.access_key_id / storage.secret_access_key", "AWS_ACCESS_KEY_ID",
                     "AWS_WEB_IDENTITY_TOKEN_FILE", "profile default", dir + "/.aws/credentials", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                     "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"] {
            #expect(error.message.contains(part), "\(part) in \(error.message)")
        }
    }

    @Test func stsEndpointIsRegionalAndOverridable() throws {
        #expect(CredentialChain(environment: [:], region: "ap-south-1").stsEndpoint == "https://sts.ap-south-1.amazonaws.com")
        #expect(CredentialChain(environment: [:], region: "auto").stsEndpoint == "https://sts.amazonaws.com")
        #expect(CredentialChain(environment: ["AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1"], region: "x").stsEndpoint
                == "http://127.0.0.1:1")
    }

    // MARK: Shared files

    @Test func profilesFromTheSharedFiles() throws {
        let dir = try TestEnvironment.temporaryDirectory("profiles").path
        let creds = dir + "/creds", config = dir + "/conf"
        try """
        # comment
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = default-secret

        [team]
        aws_access_key_id=AKIDTEAM
        aws_secret_access_key=team-secret
        aws_session_token=team-token
        """.write(toFile: creds, atomically: true, encoding: .utf8)
        try """
        [default]
        region = eu-west-1
        [profile cfg]
        aws_access_key_id = AKIDCFG
        aws_secret_access_key = cfg-secret
        s3 =
          addressing_style = path
        [profile role]
        role_arn = arn:aws:iam::1:role/x
        source_profile = default
        [sso-session corp]
        aws_access_key_id = NOTAPROFILE
        """.write(toFile: config, atomically: true, encoding: .utf8)
        func resolve(_ profile: String?) throws -> CredentialSource {
            var env = try Self.isolated(["AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": config])
            env["AWS_PROFILE"] = profile
            return try CredentialChain(environment: env).resolve(configured: nil)
        }
        #expect(try resolve(nil) == .profile(name: "default", file: creds,
                                             S3Credentials(accessKeyID: "AKIDDEFAULT", secretAccessKey: "default-secret")))
        #expect(try resolve("team") == .profile(name: "team", file: creds, S3Credentials(
            accessKeyID: "AKIDTEAM", secretAccessKey: "team-secret", sessionToken: "team-token")))
        #expect(try resolve("cfg") == .profile(name: "cfg", file: config,
                                               S3Credentials(accessKeyID: "AKIDCFG", secretAccessKey: "cfg-secret")))
        #expect("\(try resolve("cfg"))" == "profile cfg (\(config))")
        let role = try #require(throws: ObjectStoreError.self) { try resolve("role") }
        #expect(role.message.contains("AWS_PROFILE role") && role.message.contains("role_arn, source_profile")
                && role.message.contains("not supported"))
        let missing = try #require(throws: ObjectStoreError.self) { try resolve("corp") }
        #expect(missing.message.contains("no such profile"), "\(missing.message)")
    }

    // MARK: Web identity

    @Test func webIdentityAssumesTheRoleWithTheTokenFile() async throws {
        let expires = Date().addingTimeInterval(3600)
        let sts = try LoopbackHTTPServer { request in
            let form = request.form
            guard request.method == "POST", form["Action"] == "AssumeRoleWithWebIdentity", form["Version"] == "2011-06-15",
                  let token = form["WebIdentityToken"] else {
                return .init(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>bad</Message></Error></ErrorResponse>")
            }
            guard token.hasPrefix("eyJ") else {
                return .init(400, "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                             + "<Message>Couldn&apos;t retrieve verification key</Message></Error></ErrorResponse>")
            }
            return .init(200, """
            <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleWithWebIdentityResult>
                <SubjectFromWebIdentityToken>system:serviceaccount:lake:writer</SubjectFromWebIdentityToken>
                <Credentials>
                  <SessionToken>session-for-\(token.suffix(3))</SessionToken>
                  <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
                  <Expiration>\(iso8601(expires))</Expiration>
                  <AccessKeyId>ASIAWEBIDENTITY</AccessKeyId>
                </Credentials>
              </AssumeRoleWithWebIdentityResult>
            </AssumeRoleWithWebIdentityResponse>
            """, contentType: "text/xml")
        }
        defer { sts.stop() }
        let dir = try TestEnvironment.temporaryDirectory("webid").path
        let tokenFile = dir + "/token"
        try "eyJ.first.AAA\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        var chain = CredentialChain(environment: try Self.isolated([
            "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/lake writer",
            "AWS_ROLE_SESSION_NAME": "pod-1", "AWS_ENDPOINT_URL_STS": sts.endpoint,
        ]), region: "eu-west-1")
        chain.refresh = CredentialRefresh(before: .seconds(3599), margin: .seconds(1), retryInterval: .milliseconds(100))
        let source = try chain.resolve(configured: nil)
        #expect("\(source)".hasPrefix("web identity (role arn arn:aws:iam::123456789012:role/lake writer"))
        let provider = chain.provider(source, logger: Self.logger)
        let creds = try await provider.credentials()
        #expect(creds.accessKeyID == "ASIAWEBIDENTITY" && creds.secretAccessKey == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
        #expect(creds.sessionToken == "session-for-AAA")
        #expect(abs(try #require(creds.expiration).timeIntervalSince(expires)) < 1)
        let first = try #require(sts.requests.first)
        #expect(first.form["RoleArn"] == "arn:aws:iam::123456789012:role/lake writer" && first.form["RoleSessionName"] == "pod-1")
        #expect(first.form["WebIdentityToken"] == "eyJ.first.AAA")
        #expect(first.headers["authorization"] == nil)  // unsigned: the token is the proof

        // Due for refresh (3599 s before a 1 h expiry): the token file is read again.
        try "eyJ.rotated.BBB".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(1200))
        let refreshed = try await provider.credentials()
        #expect(refreshed.sessionToken == "session-for-BBB")
        #expect(sts.requests.last?.form["WebIdentityToken"] == "eyJ.rotated.BBB")

        // An STS refusal names the code and the message.
        try "not-a-jwt".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let refused = chain.provider(source, logger: Self.logger)
        let error = try await #require(throws: ObjectStoreError.self) { try await refused.credentials() }
        #expect(error.message.contains("InvalidIdentityToken") && error.message.contains("Couldn't retrieve verification key"))
        #expect(!error.message.contains("not-a-jwt"))
    }

    // MARK: Container credentials

    @Test func containerCredentialsWithAnAuthorizationTokenFile() async throws {
        let server = try LoopbackHTTPServer { request in
            guard request.path == "/v1/credentials" else { return .init(404, "no") }
            guard request.headers["authorization"] == "pod-identity-token" else { return .init(401, "unauthorized") }
            return .json(Self.containerJSON(key: "ASIACONTAINER", token: "container-token",
                                            expires: Date().addingTimeInterval(3600)))
        }
        defer { server.stop() }
        let dir = try TestEnvironment.temporaryDirectory("container").path
        try "pod-identity-token\n".write(toFile: dir + "/t", atomically: true, encoding: .utf8)
        let chain = CredentialChain(environment: try Self.isolated([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/v1/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": dir + "/t", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ignored-when-file-set",
        ]))
        let source = try chain.resolve(configured: nil)
        #expect("\(source)" == "container (\(server.endpoint)/v1/credentials, authorization token file \(dir)/t)")
        let creds = try await chain.provider(source, logger: Self.logger).credentials()
        #expect(creds.accessKeyID == "ASIACONTAINER" && creds.sessionToken == "container-token")

        // The token from the variable when no file; a wrong one is refused with the status.
        let withToken = CredentialChain(environment: try Self.isolated([
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/v1/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
        ]))
        let error = try await #require(throws: ObjectStoreError.self) {
            try await withToken.provider(try withToken.resolve(configured: nil), logger: Self.logger).credentials()
        }
        #expect(error.message.contains("HTTP 401"))

        // The relative URI goes to the container host.
        var relative = CredentialChain(environment: try Self.isolated(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v1/credentials",
                                                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN": "pod-identity-token"]))
        relative.containerHost = server.endpoint
        #expect(try await relative.provider(try relative.resolve(configured: nil), logger: Self.logger).credentials().accessKeyID
                == "ASIACONTAINER")

        // Plain http only to loopback or the ECS/EKS addresses.
        for uri in ["http://10.0.0.5/creds", "ftp://127.0.0.1/x"] {
            #expect(throws: ObjectStoreError.self) {
                try CredentialChain(environment: try Self.isolated(["AWS_CONTAINER_CREDENTIALS_FULL_URI": uri])).resolve(configured: nil)
            }
        }
        #expect(throws: Never.self) {
            try CredentialChain(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"])
                .resolve(configured: nil)
        }
    }

    @Test func oversizedOrMalformedAnswersAreRefused() async throws {
        let answers = Answers([
            "{\"AccessKeyId\": \"" + String(repeating: "A", count: 70_000) + "\"}",
            "{\"AccessKeyId\": \"A\", \"SecretAccessKey\": ",
            "[1]",
            "{\"Code\": \"Failure\", \"Message\": \"no role\"}",
            "{\"AccessKeyId\": \"A\\u00e9\", \"SecretAccessKey\": \"s\", \"Expiration\": \"tomorrow\"}",
        ])
        let server = try LoopbackHTTPServer { _ in .json(answers.next()) }
        defer { server.stop() }
        let chain = CredentialChain(environment: try Self.isolated(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/c"]))
        let source = try chain.resolve(configured: nil)
        var messages: [String] = []
        for _ in 0..<5 {
            let error = try await #require(throws: ObjectStoreError.self) {
                try await chain.provider(source, logger: Self.logger).credentials()
            }
            messages.append(error.message)
        }
        #expect(messages[0].contains("larger than 65536 bytes"), "\(messages[0])")
        #expect(messages[1].contains("invalid JSON") && messages[2].contains("expected an object"), "\(messages)")
        #expect(messages[3].contains("Code Failure: no role"))
        #expect(messages[4].contains("unreadable Expiration 'tomorrow'"))
    }

    // MARK: Instance metadata

    /// IMDSv2: a session token from PUT /latest/api/token is required on every GET.
    static func imds(role: String = "lake-role", answer: @escaping @Sendable () -> String) throws -> LoopbackHTTPServer {
        let token = "imds-session-" + UUID().uuidString
        return try LoopbackHTTPServer { request in
            if request.path == "/latest/api/token" {
                guard request.method == "PUT", let ttl = request.headers["x-aws-ec2-metadata-token-ttl-seconds"],
                      let seconds = Int(ttl), (1...21600).contains(seconds) else { return .init(400, "missing ttl") }
                return .init(200, token)
            }
            guard request.method == "GET", request.headers["x-aws-ec2-metadata-token"] == token else {
                return .init(401, "")
            }
            switch request.path {
            case "/latest/meta-data/iam/security-credentials/": return .init(200, role)
            case "/latest/meta-data/iam/security-credentials/\(role)": return .init(200, answer())
            default: return .init(404, "")
            }
        }
    }

    @Test func instanceMetadataV2() async throws {
        let server = try Self.imds {
            "{\"Code\": \"Success\", \"LastUpdated\": \"2026-12-01T10:00:00Z\", \"Type\": \"AWS-HMAC\", "
                + "\"AccessKeyId\": \"ASIAIMDS\", \"SecretAccessKey\": \"imds-secret\", \"Token\": \"imds-token\", "
                + "\"Expiration\": \"\(iso8601(Date().addingTimeInterval(6 * 3600)))\"}"
        }
        defer { server.stop() }
        let chain = CredentialChain(environment: try Self.isolated([
            "AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint,
        ]))
        let source = try chain.resolve(configured: nil)
        #expect("\(source)" == "instance metadata (\(server.endpoint))")
        let creds = try await chain.provider(source, logger: Self.logger).credentials()
        #expect(creds == S3Credentials(accessKeyID: "ASIAIMDS", secretAccessKey: "imds-secret", sessionToken: "imds-token",
                                       expiration: creds.expiration))
        #expect(server.requests.map { "\($0.method) \($0.path)" } == [
            "PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/lake-role",
        ])
    }

    /// Nothing configured and no instance metadata: the error lists every source, quickly.
    @Test func unreachableInstanceMetadataIsNoCredentials() async throws {
        let dead = try LoopbackHTTPServer { _ in .init(500, "") }
        dead.stop()  // the port now refuses connections
        var chain = CredentialChain(environment: try Self.isolated([
            "AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": dead.endpoint,
        ]))
        chain.configuredKeysName = "storage.access_key_id / storage.secret_access_key"
        let started = ContinuousClock.now
        let error = try await #require(throws: ObjectStoreError.self) {
            try await chain.provider(try chain.resolve(configured: nil), logger: Self.logger).credentials()
        }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(error.message.hasPrefix("no S3 credentials found; tried: storage.access_key_id"), "\(error.message)")
        #expect(error.message.contains("container (") && error.message.contains(dead.endpoint + "/latest/api/token"))
    }

    // MARK: Refresh

    /// A wall clock the test moves: the refresh rules are checked at exact instants, however
    /// slowly a loaded machine runs the test.
    final class ManualClock: Sendable {
        let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        var now: @Sendable () -> Date { { self.time.withLock { $0 } } }
        func advance(to seconds: Double) { time.withLock { $0 = Date(timeIntervalSince1970: 1_800_000_000 + seconds) } }
    }

    @Test func refreshHappensBeforeExpiry() async throws {
        let served = Counter()
        let clock = ManualClock()
        let refreshedAt = Mutex<Date?>(nil)
        // The first keys expire 600 s after the start; refreshed from 300 s before.
        let firstExpiry = clock.now().addingTimeInterval(600)
        let server = try LoopbackHTTPServer { _ in
            let n = served.value.add(1, ordering: .relaxed).newValue
            if n == 2 { refreshedAt.withLock { $0 = clock.now() } }
            return .json(Self.containerJSON(key: "ASIA\(n)", expires: n == 1 ? firstExpiry : clock.now().addingTimeInterval(3600)))
        }
        defer { server.stop() }
        var chain = CredentialChain(environment: try Self.isolated(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/c"]))
        chain.refresh = CredentialRefresh(before: .seconds(300), margin: .seconds(15), retryInterval: .seconds(10), now: clock.now)
        let provider = chain.provider(try chain.resolve(configured: nil), logger: Self.logger)
        #expect(try await provider.credentials().accessKeyID == "ASIA1")
        clock.advance(to: 299)  // 301 s before the expiry: still the first keys, no fetch
        #expect(try await provider.credentials().accessKeyID == "ASIA1")
        #expect(served.value.load(ordering: .relaxed) == 1)
        clock.advance(to: 301)  // inside the refresh window: fetched again, before the expiry
        #expect(try await provider.credentials().accessKeyID == "ASIA2")
        #expect(served.value.load(ordering: .relaxed) == 2)
        #expect(refreshedAt.withLock { $0 } == firstExpiry.addingTimeInterval(-299))
        clock.advance(to: 3000)  // the second keys are good for an hour
        #expect(try await provider.credentials().accessKeyID == "ASIA2")
        #expect(served.value.load(ordering: .relaxed) == 2)
    }

    @Test func concurrentCallersShareOneFetch() async throws {
        let server = try LoopbackHTTPServer { _ in
            usleep(300_000)
            return .json(Self.containerJSON(key: "ASIASHARED", expires: Date().addingTimeInterval(3600)))
        }
        defer { server.stop() }
        let chain = CredentialChain(environment: try Self.isolated(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/c"]))
        let provider = chain.provider(try chain.resolve(configured: nil), logger: Self.logger)
        let keys = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await provider.credentials().accessKeyID } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(keys == Array(repeating: "ASIASHARED", count: 20))
        #expect(server.requests.count == 1)
    }

    @Test func failedRefreshKeepsValidCredentialsThenFails() async throws {
        let served = Counter()
        let clock = ManualClock()
        let expiry = clock.now().addingTimeInterval(600)
        let server = try LoopbackHTTPServer { _ in
            served.value.add(1, ordering: .relaxed).newValue == 1
                ? .json(Self.containerJSON(key: "ASIAOLD", expires: expiry)) : .init(503, "unavailable")
        }
        defer { server.stop() }
        var chain = CredentialChain(environment: try Self.isolated(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/c"]))
        chain.refresh = CredentialRefresh(before: .seconds(300), margin: .seconds(15), retryInterval: .seconds(10), now: clock.now)
        let logged = LogCapture()
        let provider = chain.provider(try chain.resolve(configured: nil), logger: Logger(label: "t") { _ in logged })
        let first = try await provider.credentials()
        #expect(first.accessKeyID == "ASIAOLD")
        // Due for refresh, the endpoint failing: the old keys, and a warning.
        clock.advance(to: 301)
        #expect(try await provider.credentials().accessKeyID == "ASIAOLD")
        #expect(served.value.load(ordering: .relaxed) == 2)
        #expect(logged.messages.contains("credential refresh failed, using the current credentials until they expire"))
        // Within the retry interval: no new attempt; after it, one more (failing) attempt.
        clock.advance(to: 305)
        #expect(try await provider.credentials().accessKeyID == "ASIAOLD")
        #expect(served.value.load(ordering: .relaxed) == 2)
        clock.advance(to: 312)
        #expect(try await provider.credentials().accessKeyID == "ASIAOLD")
        #expect(served.value.load(ordering: .relaxed) == 3)
        #expect(!logged.text.contains(first.secretAccessKey))
        // Within the margin of the expiry (15 s): no more old keys, the fetch's error.
        clock.advance(to: 586)
        let error = try await #require(throws: ObjectStoreError.self) { try await provider.credentials() }
        #expect(error.message.contains("HTTP 503"))
    }

    // MARK: Signing with a session token

    /// The token goes in `x-amz-security-token`, and it is signed: the Authorization header
    /// the recording server received verifies only with the token among the signed headers.
    @Test func sessionTokenIsSentAndSigned() async throws {
        let s3 = try LoopbackHTTPServer { _ in .init(200, "") }
        defer { s3.stop() }
        let creds = S3Credentials(accessKeyID: "ASIATEMP", secretAccessKey: "temp-secret", sessionToken: "FQoGZXIvYXdzE//token+/=")
        let store = try S3ObjectStore(configuration: S3Configuration(
            bucket: "lake", endpoint: s3.endpoint, region: "eu-west-1",
            credentialProvider: RefreshingCredentialProvider(source: "test", logger: Self.logger) { creds }))
        try await store.put(key: "a/b.txt", body: ByteBuffer(string: "hello"))
        try await store.shutdown()
        let request = try #require(s3.requests.first)
        #expect(request.headers["x-amz-security-token"] == creds.sessionToken)
        let authorization = try #require(request.headers["authorization"])
        #expect(authorization.contains(
            "SignedHeaders=host;x-amz-checksum-sha256;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
        // The body's SHA-256 in base64 (of "hello": 2cf24dba…9824), so the store checks the body.
        let checksum = try #require(request.headers["x-amz-checksum-sha256"])
        #expect(checksum == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=")
        let amzDate = try #require(request.headers["x-amz-date"])
        let payload = try #require(request.headers["x-amz-content-sha256"])
        let scope = SigV4.Scope(dateStamp: String(amzDate.prefix(8)), region: "eu-west-1", service: "s3")
        func sign(_ headers: [(name: String, value: String)]) -> String {
            SigV4.authorization(SigV4.Request(method: "PUT", path: "/lake/a/b.txt", headers: headers, payloadHash: payload),
                                credentials: creds, amzDate: amzDate, scope: scope)
        }
        let base: [(name: String, value: String)] = [("host", "127.0.0.1:\(s3.port)"), ("x-amz-content-sha256", payload),
                                                     ("x-amz-date", amzDate), ("x-amz-checksum-sha256", checksum)]
        #expect(authorization == sign(base + [("x-amz-security-token", creds.sessionToken!)]))
        #expect(authorization != sign(base))
    }

    /// A request whose credentials cannot be had fails at once, before anything is sent, saying so.
    @Test func requestWithoutCredentialsSaysWhy() async throws {
        let s3 = try LoopbackHTTPServer { _ in .init(200, "") }
        defer { s3.stop() }
        var settings = CredentialChain(environment: try Self.isolated())
        settings.configuredKeysName = "storage.access_key_id / storage.secret_access_key"
        let chain = settings
        let store = try S3ObjectStore(configuration: S3Configuration(
            bucket: "lake", prefix: "p", endpoint: s3.endpoint,
            credentialProvider: RefreshingCredentialProvider(source: "test", logger: Self.logger) {
                _ = try chain.resolve(configured: nil)
                return S3Credentials(accessKeyID: "unreachable", secretAccessKey: "unreachable")
            }))
        let error = try await #require(throws: ObjectStoreError.self) {
            try await store.put(key: "k", body: ByteBuffer(string: "x"))
        }
        try await store.shutdown()
        #expect(error.message.hasPrefix("PutObject needs credentials: no S3 credentials found"), "\(error.message)")
        #expect(error.bucket == "lake" && error.key == "p/k")
        #expect(s3.requests.isEmpty)
    }

    // MARK: End to end

    /// A PUT to the real SeaweedFS signed with keys from the container endpoint, found through
    /// the chain by `makeObjectStore`. SeaweedFS rejects session tokens it did not issue, so the
    /// keys come without one, and a second endpoint adding a token shows the token is sent.
    @Test(.enabled(if: S3Test.available)) func putToSeaweedFSWithProvidedCredentials() async throws {
        try await S3Test.ensureSharedBucket()
        let key = try #require(TestEnvironment.s3AccessKey), secret = try #require(TestEnvironment.s3SecretKey)
        let endpoint = try #require(TestEnvironment.s3Endpoint)
        let withToken = Counter()
        let server = try LoopbackHTTPServer { _ in
            .json(Self.containerJSON(key: key, secret: secret, token: withToken.value.load(ordering: .relaxed) == 1 ? "not-issued-here" : nil,
                                     expires: Date().addingTimeInterval(3600)))
        }
        defer { server.stop() }
        let env = try Self.isolated(["AWS_CONTAINER_CREDENTIALS_FULL_URI": server.endpoint + "/creds"])
        let prefix = "creds-\(UUID().uuidString.prefix(8).lowercased())"
        let options = ObjectStoreOptions(endpoint: endpoint, region: TestEnvironment.s3Region, addressing: .pathStyle)
        let store = try #require(try makeObjectStore(url: "s3://\(S3Test.sharedBucket)/\(prefix)", options: options,
                                                     environment: env) as? S3ObjectStore)
        #expect(store.configuration.credentialProvider.source == "container (\(server.endpoint)/creds)")
        try await store.put(key: "hello.txt", body: ByteBuffer(string: "from a provider"))
        #expect(String(buffer: try await store.get(key: "hello.txt")) == "from a provider")
        try await S3Test.cleanUp(store)
        try await store.shutdown()
        #expect(server.requests.count == 1)  // one fetch for every request

        withToken.value.store(1, ordering: .relaxed)
        let tokenStore = try makeObjectStore(url: "s3://\(S3Test.sharedBucket)/\(prefix)", options: options, environment: env)
        let error = try await #require(throws: ObjectStoreError.self) {
            try await tokenStore.put(key: "rejected.txt", body: ByteBuffer(string: "x"))
        }
        try await tokenStore.shutdown()
        #expect(error.code == .accessDenied && error.s3Code == "InvalidAccessKeyId", "\(error)")
    }
}

/// Records log messages (and the whole text, to check no secret is in it).
final class LogCapture: LogHandler, @unchecked Sendable {
    // Written from the provider's tasks; the lock makes it safe.
    private let lock = NSLock()
    private var lines: [(message: String, metadata: String)] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        lock.withLock { lines.append(("\(message)", "\(metadata ?? [:])")) }
    }
    var messages: [String] { lock.withLock { lines.map(\.message) } }
    var text: String { lock.withLock { lines.map { $0.message + " " + $0.metadata }.joined(separator: "\n") } }
}

/// Answers handed out in order (to a server handler).
final class Answers: Sendable {
    private let items: Mutex<[String]>
    init(_ items: [String]) { self.items = Mutex(items) }
    func next() -> String { items.withLock { $0.isEmpty ? "" : $0.removeFirst() } }
}
