import Foundation
import Logging

/// Where the credentials of an S3 store come from, as the chain resolved it (no secret in
/// `description`, nothing fetched yet).
public enum CredentialSource: Sendable, Equatable, CustomStringConvertible {
    /// Keys given in the configuration.
    case configured(S3Credentials)
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`).
    case environment(S3Credentials)
    /// STS AssumeRoleWithWebIdentity with the token in `tokenFile` (EKS IRSA).
    case webIdentity(roleARN: String, tokenFile: String, sessionName: String, stsEndpoint: String)
    /// Static keys of a profile in the shared files.
    case profile(name: String, file: String, S3Credentials)
    /// The container credentials endpoint (ECS task roles, EKS Pod Identity).
    case container(url: String, authorizationToken: String?, authorizationTokenFile: String?)
    /// EC2 instance metadata (IMDSv2). `fallback` holds what the chain tried before, when
    /// nothing else was configured: a failing fetch then reports that no credentials were found.
    case instanceMetadata(endpoint: String, fallback: String?)

    public var description: String {
        switch self {
        case .configured: "config keys"
        case .environment: "environment (AWS_ACCESS_KEY_ID)"
        case .webIdentity(let role, let file, _, let sts): "web identity (role arn \(role), token file \(file), STS \(sts))"
        case .profile(let name, let file, _): "profile \(name) (\(file))"
        case .container(let url, let token, let file):
            "container (\(url)\(file.map { ", authorization token file \($0)" } ?? (token == nil ? "" : ", authorization token")))"
        case .instanceMetadata(let endpoint, _): "instance metadata (\(endpoint))"
        }
    }
}

/// The standard AWS credential provider chain, in the SDKs' order:
///
/// 1. keys given in the configuration;
/// 2. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
/// 3. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (+ `AWS_ROLE_SESSION_NAME`),
///    STS AssumeRoleWithWebIdentity at `https://sts.REGION.amazonaws.com` (`AWS_ENDPOINT_URL_STS`);
/// 4. the shared files: the static keys of profile `AWS_PROFILE` (else `default`) in
///    `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`) or `AWS_CONFIG_FILE` (`~/.aws/config`);
/// 5. container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on `http://169.254.170.2`, or
///    `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or
///    `AWS_CONTAINER_AUTHORIZATION_TOKEN`;
/// 6. EC2 instance metadata, IMDSv2 (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, off with
///    `AWS_EC2_METADATA_DISABLED=true`).
///
/// Resolving reads only the environment and the shared files; temporary credentials (3, 5, 6)
/// are fetched on first use and refreshed before they expire (``RefreshingCredentialProvider``).
public struct CredentialChain: Sendable {
    public var environment: [String: String]
    /// The store's region: the regional STS endpoint.
    public var region: String
    /// How configured keys are named in messages (`storage.access_key_id / storage.secret_access_key`).
    public var configuredKeysName = "configured keys"
    public var refresh = CredentialRefresh()
    /// The host of `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (tests point it at loopback).
    public var containerHost = "http://169.254.170.2"
    /// Each instance metadata request (connect included) ends after this, so a machine that is not
    /// on EC2 does not stall.
    public var metadataTimeout: Duration = .seconds(1)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, region: String = "us-east-1") {
        self.environment = environment
        self.region = region
    }

    private func env(_ name: String) -> String? {
        guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        return v
    }

    private func notFound(_ message: String) -> ObjectStoreError {
        ObjectStoreError(code: .invalidConfiguration, operation: "GetCredentials", message: message)
    }

    var homeDirectory: String { env("HOME") ?? NSHomeDirectory() }

    private func expand(_ path: String) -> String {
        if path == "~" { return homeDirectory }
        if path.hasPrefix("~/") { return homeDirectory + path.dropFirst() }
        return path
    }

    /// The first source of the chain that applies. Throws when none does (instance metadata
    /// disabled) or when a named profile or container URI is unusable.
    public func resolve(configured: S3Credentials?) throws -> CredentialSource {
        if let configured, !configured.accessKeyID.isEmpty, !configured.secretAccessKey.isEmpty {
            return .configured(configured)
        }
        if let keys = S3Credentials.fromEnvironment(environment) { return .environment(keys) }
        var tried = ["\(configuredKeysName) (not set)", "environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY not set)"]

        // Web identity.
        switch (env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN")) {
        case (let file?, let role?):
            let session = env("AWS_ROLE_SESSION_NAME") ?? "lakewriter-\(Int(Date().timeIntervalSince1970))"
            return .webIdentity(roleARN: role, tokenFile: expand(file), sessionName: session, stsEndpoint: stsEndpoint)
        case (nil, nil):
            tried.append("web identity (AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN not set)")
        case (_?, nil):
            throw notFound("AWS_WEB_IDENTITY_TOKEN_FILE is set without AWS_ROLE_ARN: web identity needs both")
        case (nil, _?):
            tried.append("web identity (AWS_ROLE_ARN set, AWS_WEB_IDENTITY_TOKEN_FILE not set)")
        }

        // Shared files.
        let explicitProfile = env("AWS_PROFILE") ?? env("AWS_DEFAULT_PROFILE")
        let profile = explicitProfile ?? "default"
        let credentialsFile = expand(env("AWS_SHARED_CREDENTIALS_FILE") ?? "~/.aws/credentials")
        let configFile = expand(env("AWS_CONFIG_FILE") ?? "~/.aws/config")
        let files = try SharedConfigFiles(credentialsFile: credentialsFile, configFile: configFile)
        if let found = files.staticKeys(profile) {
            return .profile(name: profile, file: found.inConfigFile ? configFile : credentialsFile, found.0)
        }
        if let explicitProfile {
            guard files.exists(explicitProfile) else {
                throw notFound("AWS_PROFILE \(explicitProfile): no such profile in \(credentialsFile) or \(configFile)")
            }
            let unsupported = files.unsupportedSettings(explicitProfile)
            throw notFound("AWS_PROFILE \(explicitProfile): the profile has no aws_access_key_id and aws_secret_access_key"
                           + (unsupported.isEmpty ? "" : " (\(unsupported.joined(separator: ", ")) in profiles is not supported: "
                              + "set static keys, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or use the instance or container role)"))
        }
        tried.append("profile \(profile) (no keys in \(credentialsFile) or \(configFile))")

        // Container credentials.
        let tokenFile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(expand)
        let token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if let relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let url = containerHost + (relative.hasPrefix("/") ? relative : "/" + relative)
            return .container(url: url, authorizationToken: token, authorizationTokenFile: tokenFile)
        }
        if let full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            try Self.checkContainerURI(full)
            return .container(url: full, authorizationToken: token, authorizationTokenFile: tokenFile)
        }
        tried.append("container (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / AWS_CONTAINER_CREDENTIALS_FULL_URI not set)")

        // Instance metadata.
        let endpoint = env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? "http://169.254.169.254"
        if env("AWS_EC2_METADATA_DISABLED")?.lowercased() == "true" {
            tried.append("instance metadata (disabled by AWS_EC2_METADATA_DISABLED)")
            throw notFound("no S3 credentials found; tried: " + tried.joined(separator: "; "))
        }
        return .instanceMetadata(endpoint: endpoint, fallback: tried.joined(separator: "; "))
    }

    /// `AWS_ENDPOINT_URL_STS`, else the regional endpoint (the global one for `auto` and empty regions).
    var stsEndpoint: String {
        if let url = env("AWS_ENDPOINT_URL_STS") { return url }
        let r = region.lowercased()
        if r.isEmpty || r == "auto" { return "https://sts.amazonaws.com" }
        return "https://sts.\(r).amazonaws.com" + (r.hasPrefix("cn-") ? ".cn" : "")
    }

    /// As the SDKs: plain HTTP only to loopback or the ECS / EKS Pod Identity addresses.
    static func checkContainerURI(_ uri: String) throws {
        guard let c = URLComponents(string: uri), let scheme = c.scheme?.lowercased(), let host = c.host?.lowercased(),
              !host.isEmpty else {
            throw ObjectStoreError(code: .invalidConfiguration, operation: "GetCredentials",
                                   message: "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL: \(uri)")
        }
        if scheme == "https" { return }
        let allowed = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
            || host == "169.254.170.2" || host == "169.254.170.23" || host == "fd00:ec2::23" || host == "[fd00:ec2::23]"
        guard scheme == "http", allowed else {
            throw ObjectStoreError(code: .invalidConfiguration, operation: "GetCredentials",
                                   message: "AWS_CONTAINER_CREDENTIALS_FULL_URI \(uri): plain http is allowed only to loopback, "
                                       + "169.254.170.2 or 169.254.170.23; use https")
        }
    }

    /// The provider of a resolved source: static keys as they are, temporary ones fetched and refreshed.
    public func provider(_ source: CredentialSource, logger: Logger) -> any S3CredentialProvider {
        let name = source.description
        switch source {
        case .configured(let keys), .environment(let keys), .profile(_, _, let keys):
            return StaticCredentialProvider(keys, source: name)
        case .webIdentity(let role, let file, let session, let sts):
            return RefreshingCredentialProvider(source: name, refresh: refresh, logger: logger) {
                try await CredentialFetch.webIdentity(tokenFile: file, roleARN: role, sessionName: session, endpoint: sts,
                                                      source: "web identity")
            }
        case .container(let url, let token, let file):
            return RefreshingCredentialProvider(source: name, refresh: refresh, logger: logger) {
                try await CredentialFetch.container(url: url, authorizationToken: token, authorizationTokenFile: file,
                                                    source: "container credentials")
            }
        case .instanceMetadata(let endpoint, let fallback):
            let timeout = metadataTimeout
            return RefreshingCredentialProvider(source: name, refresh: refresh, logger: logger) {
                do {
                    return try await CredentialFetch.instanceMetadata(endpoint: endpoint, timeout: timeout,
                                                                      source: "instance metadata")
                } catch let error as ObjectStoreError {
                    guard let fallback else { throw error }
                    throw ObjectStoreError(code: .invalidConfiguration, operation: "GetCredentials",
                                           message: "no S3 credentials found; tried: \(fallback); \(error.message)")
                }
            }
        }
    }
}
