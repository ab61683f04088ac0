import Foundation

/// The AWS shared files: `~/.aws/credentials` (`[name]` sections) and `~/.aws/config`
/// (`[default]` and `[profile name]` sections), INI text of `key = value` lines.
///
/// Only static keys are read (`aws_access_key_id`, `aws_secret_access_key`,
/// `aws_session_token`); a profile that instead names a role (`role_arn`, `source_profile`),
/// SSO or `credential_process` is reported as unsupported. The credentials file wins over the
/// config file for the same profile, as in the SDKs.
struct SharedConfigFiles {
    static let maxFileBytes = 1 << 20

    /// Each profile's keys (lower-cased), by profile name.
    var credentials: [String: [String: String]] = [:]
    var config: [String: [String: String]] = [:]

    init(credentialsFile: String?, configFile: String?) throws {
        if let credentialsFile, let text = try Self.read(credentialsFile) {
            credentials = Self.parse(text, isConfig: false)
        }
        if let configFile, let text = try Self.read(configFile) {
            config = Self.parse(text, isConfig: true)
        }
    }

    /// nil when the file does not exist.
    static func read(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ObjectStoreError(code: .invalidConfiguration, operation: "GetCredentials",
                                   message: "cannot read the AWS shared file \(path)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxFileBytes + 1)) ?? Data()
        guard data.count <= maxFileBytes else {
            throw ObjectStoreError(code: .invalidConfiguration, operation: "GetCredentials",
                                   message: "the AWS shared file \(path) is larger than \(maxFileBytes) bytes")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ text: String, isConfig: Bool) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var section: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { section = nil; continue }
                var name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if isConfig {
                    if name.hasPrefix("profile ") {
                        name = name.dropFirst("profile ".count).trimmingCharacters(in: .whitespaces)
                    } else if name != "default" {
                        section = nil  // [sso-session x], [services x]: not profiles
                        continue
                    }
                }
                section = name
                if result[name] == nil { result[name] = [:] }
                continue
            }
            // Indented lines continue a nested value (`s3 =` sub-settings): not credentials.
            if raw.first == " " || raw.first == "\t" { continue }
            guard let section, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            result[section]?[key] = value
        }
        return result
    }

    func exists(_ profile: String) -> Bool { credentials[profile] != nil || config[profile] != nil }

    /// Where a profile's static keys are: the file that has both, the credentials file first.
    func staticKeys(_ profile: String) -> (S3Credentials, inConfigFile: Bool)? {
        for (table, inConfig) in [(credentials, false), (config, true)] {
            guard let p = table[profile], let key = p["aws_access_key_id"], !key.isEmpty,
                  let secret = p["aws_secret_access_key"], !secret.isEmpty else { continue }
            let token = p["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            return (S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token), inConfig)
        }
        return nil
    }

    /// The settings of a profile this client does not follow (role chaining, SSO, a process).
    func unsupportedSettings(_ profile: String) -> [String] {
        let keys = Set((credentials[profile] ?? [:]).keys).union((config[profile] ?? [:]).keys)
        return ["role_arn", "source_profile", "credential_source", "credential_process", "sso_session", "sso_start_url",
                "web_identity_token_file"].filter(keys.contains)
    }
}
