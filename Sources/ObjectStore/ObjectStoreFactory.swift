import Foundation
import Logging

/// Options for `makeObjectStore(url:options:)`; only the S3 ones apply to `s3://` URLs.
public struct ObjectStoreOptions: Sendable, CustomStringConvertible {
    /// `http(s)://host[:port]`; nil means AWS.
    public var endpoint: String?
    public var region: String
    /// nil chooses: virtual-hosted for AWS, path-style for custom endpoints.
    public var addressing: S3Configuration.Addressing?
    /// Keys given in the configuration: the first source of the chain (``CredentialChain``).
    public var credentials: S3Credentials?
    /// Used as is when set (the chain is then not consulted).
    public var credentialProvider: (any S3CredentialProvider)?
    public var caCertificateFile: String?
    public var retry: RetryPolicy
    public var maxConnections: Int
    public var onRetry: (@Sendable (RetryEvent) -> Void)?
    /// Each attempt's outcome (S3 only).
    public var onRequest: (@Sendable (RequestEvent) -> Void)?
    public var logger: Logger?

    public init(endpoint: String? = nil, region: String = "us-east-1", addressing: S3Configuration.Addressing? = nil,
                credentials: S3Credentials? = nil, caCertificateFile: String? = nil, retry: RetryPolicy = RetryPolicy(),
                maxConnections: Int = 16, onRetry: (@Sendable (RetryEvent) -> Void)? = nil, logger: Logger? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.credentials = credentials
        self.caCertificateFile = caCertificateFile
        self.retry = retry
        self.maxConnections = maxConnections
        self.onRetry = onRetry
        self.logger = logger
    }

    public var description: String {
        "ObjectStoreOptions(endpoint: \(endpoint ?? "aws"), region: \(region), credentials: \(credentialProvider?.source ?? credentials.map { "\($0)" } ?? "credential chain"))"
    }
}

/// Opens the store a URL names: `s3://bucket[/prefix]` or `file:///absolute/path`
/// (a plain absolute path is accepted as a file URL).
public func makeObjectStore(url: String, options: ObjectStoreOptions = ObjectStoreOptions(),
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any ObjectStore {
    func invalid(_ message: String) -> ObjectStoreError {
        ObjectStoreError(code: .invalidConfiguration, operation: "Configure", message: message)
    }
    if url.hasPrefix("/") { return try LocalFileStore(root: url) }
    if url.hasPrefix("file://") {
        let path = String(url.dropFirst("file://".count))
        guard path.hasPrefix("/") else { throw invalid("file URLs need an absolute path: file:///path, got \(url)") }
        return try LocalFileStore(root: path.removingPercentEncoding ?? path)
    }
    if url.hasPrefix("s3://") {
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count))
        guard !bucket.isEmpty else { throw invalid("missing bucket in \(url)") }
        let logger = options.logger ?? Logger(label: "lakewriter.objectstore", factory: { _ in SwiftLogNoOpLogHandler() })
        let provider: any S3CredentialProvider
        if let given = options.credentialProvider {
            provider = given
        } else {
            let chain = CredentialChain(environment: environment, region: options.region)
            provider = chain.provider(try chain.resolve(configured: options.credentials), logger: logger)
        }
        var config = S3Configuration(bucket: bucket, prefix: prefix, endpoint: options.endpoint, region: options.region,
                                     addressing: options.addressing, credentialProvider: provider,
                                     caCertificateFile: options.caCertificateFile, retry: options.retry,
                                     maxConnections: options.maxConnections, onRetry: options.onRetry)
        config.onRequest = options.onRequest
        config.logger = logger
        return try S3ObjectStore(configuration: config)
    }
    throw invalid("unsupported store URL \(url): use s3://bucket/prefix or file:///path")
}
