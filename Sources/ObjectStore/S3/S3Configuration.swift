import Foundation
import Logging

/// Everything `S3ObjectStore` needs to reach one bucket.
///
/// Defaults: region `us-east-1`; AWS virtual-hosted addressing when no endpoint is given,
/// path-style otherwise (MinIO, SeaweedFS, R2); HTTPS certificates verified against the
/// system roots plus `caCertificateFile` when set.
public struct S3Configuration: Sendable, CustomStringConvertible {
    /// How the bucket appears in the URL.
    public enum Addressing: String, Sendable {
        /// `https://endpoint/bucket/key`: MinIO, SeaweedFS, R2.
        case pathStyle
        /// `https://bucket.endpoint/key`: AWS.
        case virtualHosted
    }

    public var bucket: String
    /// Prepended to every key (`logs/` for `s3://bucket/logs`); empty for the whole bucket.
    public var prefix: String
    /// `http(s)://host[:port]`; nil means AWS (`https://s3.REGION.amazonaws.com`).
    public var endpoint: String?
    public var region: String
    public var addressing: Addressing
    /// Where each request's credentials come from (static keys or a refreshing source).
    public var credentialProvider: any S3CredentialProvider
    /// A PEM file of extra CA certificates to trust (self-signed MinIO, corporate proxies).
    public var caCertificateFile: String?
    public var retry: RetryPolicy
    public var connectTimeout: Duration
    /// Longest silence while reading a response before the attempt fails (and is retried).
    public var readTimeout: Duration
    /// Upper bound for one attempt of one request, body upload included.
    public var requestTimeout: Duration
    /// Connections kept open to the endpoint; bounds concurrent part uploads across writers.
    public var maxConnections: Int
    /// Called for each retry, e.g. to count `objectstore_retries_total`.
    public var onRetry: (@Sendable (RetryEvent) -> Void)?
    /// Called once per attempt with its outcome, e.g. to count requests by operation and status.
    public var onRequest: (@Sendable (RequestEvent) -> Void)?
    public var logger: Logger

    public init(bucket: String, prefix: String = "", endpoint: String? = nil, region: String = "us-east-1",
                addressing: Addressing? = nil, credentials: S3Credentials, caCertificateFile: String? = nil,
                retry: RetryPolicy = RetryPolicy(), connectTimeout: Duration = .seconds(10),
                readTimeout: Duration = .seconds(60), requestTimeout: Duration = .seconds(600),
                maxConnections: Int = 16, onRetry: (@Sendable (RetryEvent) -> Void)? = nil,
                logger: Logger = Logger(label: "lakewriter.objectstore", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.init(bucket: bucket, prefix: prefix, endpoint: endpoint, region: region, addressing: addressing,
                  credentialProvider: StaticCredentialProvider(credentials), caCertificateFile: caCertificateFile,
                  retry: retry, connectTimeout: connectTimeout, readTimeout: readTimeout, requestTimeout: requestTimeout,
                  maxConnections: maxConnections, onRetry: onRetry, logger: logger)
    }

    public init(bucket: String, prefix: String = "", endpoint: String? = nil, region: String = "us-east-1",
                addressing: Addressing? = nil, credentialProvider: any S3CredentialProvider, caCertificateFile: String? = nil,
                retry: RetryPolicy = RetryPolicy(), connectTimeout: Duration = .seconds(10),
                readTimeout: Duration = .seconds(60), requestTimeout: Duration = .seconds(600),
                maxConnections: Int = 16, onRetry: (@Sendable (RetryEvent) -> Void)? = nil,
                logger: Logger = Logger(label: "lakewriter.objectstore", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.bucket = bucket
        self.prefix = S3Configuration.normalizePrefix(prefix)
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing ?? (endpoint == nil ? .virtualHosted : .pathStyle)
        self.credentialProvider = credentialProvider
        self.caCertificateFile = caCertificateFile
        self.retry = retry
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.requestTimeout = requestTimeout
        self.maxConnections = maxConnections
        self.onRetry = onRetry
        self.logger = logger
    }

    /// A Cloudflare R2 bucket: `https://ACCOUNT.r2.cloudflarestorage.com`, region `auto`, path-style.
    public static func r2(accountID: String, bucket: String, prefix: String = "", credentials: S3Credentials) -> S3Configuration {
        S3Configuration(bucket: bucket, prefix: prefix, endpoint: "https://\(accountID).r2.cloudflarestorage.com",
                        region: "auto", addressing: .pathStyle, credentials: credentials)
    }

    static func normalizePrefix(_ prefix: String) -> String {
        var p = Substring(prefix)
        while p.hasPrefix("/") { p = p.dropFirst() }
        while p.hasSuffix("/") { p = p.dropLast() }
        return p.isEmpty ? "" : String(p) + "/"
    }

    public var description: String {
        "S3Configuration(s3://\(bucket)/\(prefix), endpoint: \(endpoint ?? "aws"), region: \(region), "
            + "addressing: \(addressing.rawValue), credentials: \(credentialProvider.source))"
    }
}

/// The resolved scheme, host and paths of one bucket.
struct S3Endpoint: Sendable {
    let scheme: String
    /// The host as sent in the `Host` header (port included when not the scheme's default).
    let hostHeader: String
    /// `scheme://host[:port]`
    let origin: String
    /// `/bucket` (path-style) or empty (virtual-hosted).
    let bucketPath: String

    init(_ config: S3Configuration) throws {
        let raw = config.endpoint ?? "https://s3.\(config.region).amazonaws.com"
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw ObjectStoreError(code: .invalidConfiguration, operation: "Configure", bucket: config.bucket,
                                   message: "endpoint must look like http(s)://host[:port], got \(raw)")
        }
        guard !config.bucket.isEmpty, !config.bucket.contains("/") else {
            throw ObjectStoreError(code: .invalidConfiguration, operation: "Configure", bucket: config.bucket,
                                   message: "invalid bucket name")
        }
        let defaultPort = scheme == "https" ? 443 : 80
        let portSuffix = components.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? ""
        self.scheme = scheme
        switch config.addressing {
        case .pathStyle:
            self.hostHeader = host + portSuffix
            self.bucketPath = "/" + config.bucket
        case .virtualHosted:
            self.hostHeader = config.bucket + "." + host + portSuffix
            self.bucketPath = ""
        }
        self.origin = scheme + "://" + hostHeader
    }
}
