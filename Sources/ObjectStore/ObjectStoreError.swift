/// A failed store operation, with what a user needs to act on it.
///
/// `code` says what kind of failure it is; the other fields say where: the operation,
/// bucket and key, and for S3 the HTTP status, the S3 error code and the request id to
/// quote to the provider. `description` ends with a hint of what to check.
public struct ObjectStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, independent of the store.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// `putIfAbsent` found an existing object.
        public static let alreadyExists = Code("alreadyExists")
        public static let notFound = Code("notFound")
        public static let noSuchBucket = Code("noSuchBucket")
        /// Signature, key or permission problem (HTTP 403).
        public static let accessDenied = Code("accessDenied")
        /// The request was refused as malformed (HTTP 400 and other 4xx).
        public static let badRequest = Code("badRequest")
        /// A retryable failure (5xx, throttling, connection) that persisted past every attempt
        /// or the retry budget.
        public static let retriesExhausted = Code("retriesExhausted")
        /// The server answered something this client cannot interpret.
        public static let invalidResponse = Code("invalidResponse")
        /// A local file system call failed.
        public static let io = Code("io")
        /// The configuration or URL is unusable.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// The writer was used after finish/abort, or aborted.
        public static let writerClosed = Code("writerClosed")
    }

    public var code: Code
    /// The store operation, e.g. `PutObject`, `UploadPart`, `CompleteMultipartUpload`.
    public var operation: String
    public var bucket: String?
    public var key: String?
    public var status: Int?
    /// The `<Code>` of an S3 error body, e.g. `SignatureDoesNotMatch`.
    public var s3Code: String?
    public var requestID: String?
    public var message: String
    /// How many attempts were made (1 when nothing was retried).
    public var attempts: Int

    public init(code: Code, operation: String, bucket: String? = nil, key: String? = nil, status: Int? = nil,
                s3Code: String? = nil, requestID: String? = nil, message: String, attempts: Int = 1) {
        self.code = code
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.status = status
        self.s3Code = s3Code
        self.requestID = requestID
        self.message = message
        self.attempts = attempts
    }

    /// What the user should check, derived from the code and the S3 error code.
    public var hint: String? {
        switch (code, s3Code) {
        case (.accessDenied, "SignatureDoesNotMatch"?), (.accessDenied, "InvalidAccessKeyId"?):
            return "check the access key/secret and the region"
        case (.accessDenied, "RequestTimeTooSkewed"?):
            return "the local clock differs from the server's: sync the clock (NTP)"
        case (.accessDenied, _):
            return "check the access key/secret, the region, and that the credentials may write to this bucket"
        case (.noSuchBucket, _):
            return "bucket does not exist: create it, or check the bucket name and endpoint"
        case (.badRequest, "AuthorizationHeaderMalformed"?):
            return "check the region configured for this bucket"
        case (.badRequest, "EntityTooSmall"?):
            return "multipart parts must be at least 5 MiB: raise the part size"
        case (.badRequest, _):
            return "check the endpoint, region and addressing style (path-style or virtual-hosted)"
        case (.retriesExhausted, _):
            return "the storage service kept failing or was unreachable: check the endpoint and its health"
        case (.invalidConfiguration, _):
            return "check the store URL and options"
        default:
            return nil
        }
    }

    public var description: String {
        var s = "\(operation) failed (\(code))"
        if let bucket { s += " bucket=\(bucket)" }
        if let key { s += " key=\(key)" }
        if let status { s += " status=\(status)" }
        if let s3Code { s += " code=\(s3Code)" }
        if let requestID { s += " request-id=\(requestID)" }
        if attempts > 1 { s += " attempts=\(attempts)" }
        s += ": \(message)"
        if let hint { s += " (\(hint))" }
        return s
    }
}
