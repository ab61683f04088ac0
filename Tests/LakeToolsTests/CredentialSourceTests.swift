@testable import LakeModel
@testable import LakeOutput
@testable import LakeTools
import Foundation
import Testing
import TestSupport

/// `check-config` says where the credentials of an `s3://` store will come from, without
/// fetching or printing them; `run` stops at start, naming the file and keys, when there are none.
@Suite struct CredentialSourceTests {
    static let config = """
    storage: {url: "s3://lake/events", region: eu-west-1}
    entities: {e: {stream: s, columns: {a: int64}}}

    """

    func check(_ yaml: String = Self.config, _ env: [String: String]) throws -> (code: Int32, err: String, out: String) {
        let dir = try TestEnvironment.temporaryDirectory("credcheck").path
        try yaml.write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        let box = OutputBox()
        let code = Commands.checkConfig(path: dir + "/c.yaml", environment: env, output: box.output)
        return (code, box.err, box.out)
    }

    @Test func checkConfigNamesTheSource() throws {
        let home = try TestEnvironment.temporaryDirectory("credhome").path
        let base = ["HOME": home, "AWS_EC2_METADATA_DISABLED": "true"]
        let keys = ["AWS_ACCESS_KEY_ID": "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY": "env-secret-value", "AWS_SESSION_TOKEN": "env-token-value"]

        let configured = try check("""
        storage: {url: "s3://lake/events", access_key_id: AKIACONF, secret_access_key: conf-secret-value}
        entities: {e: {stream: s, columns: {a: int64}}}

        """, base.merging(keys) { a, _ in a })
        #expect(configured.code == 0 && configured.err.contains("credentials: config keys\n"), "\(configured.err)")
        #expect(!(configured.err + configured.out).contains("conf-secret-value"))

        let env = try check(Self.config, base.merging(keys) { a, _ in a })
        #expect(env.err.contains("credentials: environment (AWS_ACCESS_KEY_ID)\n"), "\(env.err)")
        #expect(!(env.err + env.out).contains("env-secret-value") && !(env.err + env.out).contains("env-token-value"))

        let web = try check(Self.config, base.merging(["AWS_WEB_IDENTITY_TOKEN_FILE": home + "/token",
                                                        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/lake"]) { a, _ in a })
        #expect(web.err.contains("credentials: web identity (role arn arn:aws:iam::123456789012:role/lake, token file \(home)/token, "
                                 + "STS https://sts.eu-west-1.amazonaws.com)"), "\(web.err)")

        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret-value\n"
            .write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        let profile = try check(Self.config, base)
        #expect(profile.err.contains("credentials: profile default (\(home)/.aws/credentials)"), "\(profile.err)")
        #expect(!profile.err.contains("profile-secret-value"))
        try FileManager.default.removeItem(atPath: home + "/.aws/credentials")

        let container = try check(Self.config, base.merging(["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
                                                              "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-auth-value"]) { a, _ in a })
        #expect(container.err.contains("credentials: container (http://169.254.170.2/v2/credentials/x, authorization token)"),
                "\(container.err)")
        #expect(!container.err.contains("container-auth-value"))

        // Nothing configured: instance metadata, not contacted by check-config.
        let imds = try check(Self.config, ["HOME": home, "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"])
        #expect(imds.err.contains("credentials: instance metadata (http://127.0.0.1:9), nothing else configured"), "\(imds.err)")

        let none = try check(Self.config, base)
        #expect(none.code == 0)
        #expect(none.err.contains("credentials: none: no S3 credentials found; tried: config keys storage.access_key_id / "
                                  + "storage.secret_access_key (not set)"), "\(none.err)")

        let file = try check("entities: {e: {stream: s, columns: {a: int64}}}\n", base)
        #expect(file.code == 0 && !file.err.contains("credentials:"))
    }

    @Test func missingCredentialsNameTheKeys() async throws {
        let home = try TestEnvironment.temporaryDirectory("credhome").path
        let config = try ConfigLoader(environment: [:]).load(yaml: Self.config, file: "c.yaml")
        let missing = await config.storage.missingCredentials(environment: ["HOME": home, "AWS_EC2_METADATA_DISABLED": "true"])
        #expect(missing?.hasPrefix("storage: no S3 credentials found; tried: config keys storage.access_key_id") == true,
                "\(missing ?? "nil")")
        // Instance metadata is the last resort: it is asked once, and its silence is the same error.
        let silent = await config.storage.missingCredentials(environment: ["HOME": home,
                                                                           "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"])
        #expect(silent?.contains("storage: no S3 credentials found; tried: config keys storage.access_key_id") == true
                && silent?.contains("http://127.0.0.1:9/latest/api/token") == true, "\(silent ?? "nil")")
        #expect(await config.storage.missingCredentials(environment: ["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"]) == nil)
    }

    /// `lakewriter run` without credentials: exit 2 and a message naming the config file and the keys.
    @Test func runWithoutCredentialsNamesTheFileAndKeys() throws {
        let bin = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter").path
        try #require(FileManager.default.isExecutableFile(atPath: bin), "build first: swift build --build-tests")
        let dir = try TestEnvironment.temporaryDirectory("runcreds").path
        try Self.config.write(toFile: dir + "/lake.yaml", atomically: true, encoding: .utf8)
        var env = ["HOME": dir, "AWS_EC2_METADATA_DISABLED": "true"]
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                     "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
                     "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
            env[name] = ""
        }
        let run = try ProcessRunner.run(bin, ["run", "--config", dir + "/lake.yaml"], environment: env, check: false)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("error: \(dir)/lake.yaml: storage: no S3 credentials found"), "\(run.stderr)")
        #expect(run.stderr.contains("storage.access_key_id / storage.secret_access_key"))
        #expect(run.stderr.contains("instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"))
    }
}
