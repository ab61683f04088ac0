import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// One S3 API call before signing: what `S3ObjectStore.send` needs to run and retry it.
struct S3Call: Sendable {
    var operation: String
    var method: HTTPMethod
    /// The object key relative to the store prefix; nil for bucket-level calls.
    var key: String?
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    var body: ByteBuffer?
    /// Non-2xx statuses returned to the caller instead of thrown (404 for HEAD/DELETE).
    var acceptedStatuses: Set<Int> = []
    /// Extra statuses worth retrying for this call.
    var retryableStatuses: Set<Int> = []
    /// CompleteMultipartUpload can answer 200 with an `<Error>` document.
    var errorIn200 = false
    /// Sends the body's SHA-256 as `x-amz-checksum-sha256` too (PutObject), so the store
    /// refuses a body that did not arrive whole. Some stores (SeaweedFS) do not check
    /// `x-amz-content-sha256` and create an empty object when the connection ends after the
    /// request head, as it does when the process is killed mid-upload.
    var checksumsBody = false
    var maxResponseBytes = 16 << 20

    init(operation: String, method: HTTPMethod, key: String?, body: ByteBuffer? = nil) {
        self.operation = operation
        self.method = method
        self.key = key
        self.body = body
    }
}

struct S3Response: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
    var etag: String? { headers.first(name: "etag").map(S3ObjectStore.unquote) }
}

extension S3ObjectStore {
    /// S3 error codes that mean "try again later" whatever the status.
    static let retryableCodes: Set<String> = [
        "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException",
        "RequestThrottled",
    ]
    static let retryableStatuses: Set<Int> = [500, 502, 503, 504]

    private enum Failure {
        case status(Int, s3Code: String?, requestID: String?, message: String)
        case transport(String, isTimeout: Bool)
    }

    /// Signs and sends `call`, retrying transient failures; returns 2xx (and accepted) responses.
    func send(_ call: S3Call) async throws -> S3Response {
        let path: String
        if let key = call.key {
            path = endpoint.bucketPath + "/" + configuration.prefix + key
        } else {
            path = endpoint.bucketPath.isEmpty ? "/" : endpoint.bucketPath
        }
        var url = endpoint.origin + SigV4.uriEncode(path, encodeSlash: false)
        if !call.query.isEmpty { url += "?" + SigV4.canonicalQuery(call.query) }
        // Bodies are hashed once, not once per attempt.
        let payloadHash: String
        var call = call
        if let body = call.body, body.readableBytes > 0 {
            let digest = body.withUnsafeReadableBytes { raw in
                var hasher = SHA256()
                hasher.update(bufferPointer: raw)
                return hasher.finalize()
            }
            payloadHash = SigV4.hex(digest)
            if call.checksumsBody {
                call.headers.append(("x-amz-checksum-sha256", Data(digest).base64EncodedString()))
            }
        } else {
            payloadHash = SigV4.emptyPayloadHash
        }
        let policy = configuration.retry
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            // Fetched per attempt: a refresh between attempts is picked up, expired keys never signed.
            let credentials: S3Credentials
            do {
                credentials = try await configuration.credentialProvider.credentials()
            } catch var error as ObjectStoreError {
                error.bucket = error.bucket ?? configuration.bucket
                error.key = error.key ?? call.key.map { configuration.prefix + $0 }
                error.message = "\(call.operation) needs credentials: \(error.message)"
                throw error
            }
            let request = signedRequest(call, path: path, url: url, payloadHash: payloadHash, credentials: credentials)
            let failure: Failure
            do {
                let response = try await client.execute(request, deadline: .now() + TimeAmount(configuration.requestTimeout),
                                                        logger: nil)
                let body = try await response.body.collect(upTo: call.maxResponseBytes)
                let status = Int(response.status.code)
                configuration.onRequest?(RequestEvent(operation: call.operation, status: status))
                let result = S3Response(status: status, headers: response.headers, body: body)
                if (200..<300).contains(status) {
                    if call.errorIn200, S3XML(body.readableBytesView).hasRoot("Error") {
                        failure = Self.parseFailure(status: status, result)
                    } else {
                        budget.refund(policy.successRefund)
                        return result
                    }
                } else if call.acceptedStatuses.contains(status) {
                    budget.refund(policy.successRefund)
                    return result
                } else {
                    failure = Self.parseFailure(status: status, result)
                }
            } catch let error as HTTPClientError where error == .cancelled {
                throw CancellationError()
            } catch is CancellationError {
                throw CancellationError()
            } catch let error where error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
                // Certificate problems do not heal by retrying.
                throw ObjectStoreError(code: .invalidConfiguration, operation: call.operation, bucket: configuration.bucket,
                                       key: call.key.map { configuration.prefix + $0 },
                                       message: "TLS with \(endpoint.origin) failed: \(error); check the endpoint's certificate, "
                                           + "or set caCertificateFile to the CA that signed it", attempts: attempt)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                configuration.onRequest?(RequestEvent(operation: call.operation, status: nil))
                let timeout = [HTTPClientError.readTimeout, .connectTimeout, .deadlineExceeded]
                    .contains { ($0 as HTTPClientError) == (error as? HTTPClientError) }
                failure = .transport(String(describing: error), isTimeout: timeout)
            }

            // Decide whether to retry.
            let retryable: Bool
            var cost = policy.retryCost
            switch failure {
            case .status(let status, let code, _, _):
                retryable = Self.retryableStatuses.contains(status) || call.retryableStatuses.contains(status)
                    || code.map { Self.retryableCodes.contains($0) } ?? false
            case .transport(_, let isTimeout):
                retryable = true
                if isTimeout { cost *= 2 }
            }
            guard retryable else { throw finalError(call, failure, attempts: attempt) }
            guard attempt < policy.maxAttempts else {
                throw finalError(call, failure, attempts: attempt, exhausted: "gave up after \(attempt) attempts")
            }
            guard budget.acquire(cost) else {
                throw finalError(call, failure, attempts: attempt, exhausted: "retry budget exhausted")
            }
            retries.add(1, ordering: .relaxed)
            let event: RetryEvent
            switch failure {
            case .status(let status, let code, _, let message):
                event = RetryEvent(operation: call.operation, key: call.key, attempt: attempt, status: status,
                                   reason: code ?? message)
            case .transport(let description, _):
                event = RetryEvent(operation: call.operation, key: call.key, attempt: attempt, status: nil, reason: description)
            }
            configuration.onRetry?(event)
            configuration.logger.debug("retrying S3 request", metadata: [
                "s3.operation": "\(call.operation)", "s3.key": "\(call.key ?? "")", "s3.attempt": "\(attempt)",
                "s3.reason": "\(event.reason)",
            ])
            try await Task.sleep(for: policy.delay(beforeRetry: attempt))
        }
    }

    private func signedRequest(_ call: S3Call, path: String, url: String, payloadHash: String,
                               credentials: S3Credentials) -> HTTPClientRequest {
        let (amzDate, dateStamp) = SigV4.timestamps(Date())
        var signed: [(name: String, value: String)] = [
            ("host", endpoint.hostHeader),
            ("x-amz-content-sha256", payloadHash),
            ("x-amz-date", amzDate),
        ]
        if let token = credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        signed += call.headers
        let scope = SigV4.Scope(dateStamp: dateStamp, region: configuration.region, service: "s3")
        let authorization = SigV4.authorization(
            SigV4.Request(method: call.method.rawValue, path: path, query: call.query, headers: signed, payloadHash: payloadHash),
            credentials: credentials, amzDate: amzDate, scope: scope)

        var request = HTTPClientRequest(url: url)
        request.method = call.method
        for (name, value) in signed where name != "host" { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Authorization", value: authorization)
        if let body = call.body {
            request.body = .bytes(body)
        } else if call.method == .PUT || call.method == .POST {
            request.body = .bytes(ByteBuffer())
        }
        return request
    }

    private static func parseFailure(status: Int, _ response: S3Response) -> Failure {
        let xml = S3XML(response.body.readableBytesView)
        let code = xml.value("Code")
        let requestID = xml.value("RequestId") ?? response.headers.first(name: "x-amz-request-id")
        var message = xml.value("Message") ?? ""
        if message.isEmpty {
            message = response.body.readableBytes == 0 ? "HTTP \(status)" : String(buffer: response.body).prefix(200).description
        }
        return .status(status, s3Code: code, requestID: requestID, message: message)
    }

    private func finalError(_ call: S3Call, _ failure: Failure, attempts: Int, exhausted: String? = nil) -> ObjectStoreError {
        switch failure {
        case .status(let status, let s3Code, let requestID, let message):
            var code: ObjectStoreError.Code
            switch (status, s3Code) {
            case (_, "NoSuchBucket"?): code = .noSuchBucket
            case (403, _): code = .accessDenied
            case (404, _): code = .notFound
            case (400..<500, _): code = .badRequest
            case (200..<300, _): code = .invalidResponse
            default: code = .badRequest
            }
            var text = message
            if let exhausted {
                code = .retriesExhausted
                text = "\(exhausted); last error: \(message)"
            }
            return ObjectStoreError(code: code, operation: call.operation, bucket: configuration.bucket,
                                    key: call.key.map { configuration.prefix + $0 }, status: status, s3Code: s3Code,
                                    requestID: requestID, message: text, attempts: attempts)
        case .transport(let description, _):
            return ObjectStoreError(code: .retriesExhausted, operation: call.operation, bucket: configuration.bucket,
                                    key: call.key.map { configuration.prefix + $0 },
                                    message: "\(exhausted ?? "not retried"); last error: \(description) (endpoint \(endpoint.origin))",
                                    attempts: attempts)
        }
    }

    func error(_ call: S3Call, status: Int?, s3Code: String? = nil, message: String) -> ObjectStoreError {
        ObjectStoreError(code: .invalidResponse, operation: call.operation, bucket: configuration.bucket,
                         key: call.key.map { configuration.prefix + $0 }, status: status, s3Code: s3Code, message: message)
    }
}
