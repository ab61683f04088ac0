import Foundation
import LakeModel
import Logging
import ObjectStore
import Parquet

extension StorageConfig {
    /// The store this configuration names: the one opener of the worker, the commands and the
    /// backfill, so they agree on every setting.
    ///
    /// - A relative `file://` URL is resolved against `directory` (``resolvedURL(relativeTo:)``)
    ///   and its directory is created.
    /// - `s3://bucket[/prefix]` uses the endpoint, region, credentials and CA file; addressing
    ///   is exactly `path_style` (the loader already defaults it to true when an endpoint is set).
    ///   Credentials come from the chain (``credentialChain(environment:)``): the configured keys
    ///   first, then the environment, web identity, profiles, container and instance metadata.
    /// - Parameter url: another location opened with these settings (a command's `s3://` output
    ///   in another bucket); nil opens `url` of the configuration.
    package func openStore(url other: String? = nil, logger: Logger = Logger(label: "lakewriter"),
                           relativeTo directory: String = FileManager.default.currentDirectoryPath,
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           onRetry: (@Sendable (RetryEvent) -> Void)? = nil,
                           onRequest: (@Sendable (RequestEvent) -> Void)? = nil) throws -> any ObjectStore {
        var target = self
        if let other { target.url = other }
        let url = target.resolvedURL(relativeTo: directory)
        if case .file = target.location {
            try FileManager.default.createDirectory(atPath: String(url.dropFirst("file://".count)),
                                                    withIntermediateDirectories: true)
        }
        var options = ObjectStoreOptions(endpoint: endpoint, region: region,
                                         addressing: pathStyle ? .pathStyle : .virtualHosted,
                                         credentials: staticCredentials, caCertificateFile: caFile,
                                         onRetry: onRetry, logger: logger)
        options.onRequest = onRequest
        if case .s3 = StorageLocation(url) {
            let chain = credentialChain(environment: environment)
            do {
                options.credentialProvider = chain.provider(try chain.resolve(configured: staticCredentials), logger: logger)
            } catch var error as ObjectStoreError {
                error.message = "storage: " + error.message
                throw error
            }
        }
        return try makeObjectStore(url: url, options: options, environment: environment)
    }

    /// The credential chain of this storage, its messages naming the configuration keys.
    package func credentialChain(environment: [String: String] = ProcessInfo.processInfo.environment) -> CredentialChain {
        var chain = CredentialChain(environment: environment, region: region)
        chain.configuredKeysName = "config keys storage.access_key_id / storage.secret_access_key"
        return chain
    }

    /// Where the credentials of an `s3://` store will come from, resolved without fetching
    /// anything (nil for a `file://` store).
    package func credentialSource(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CredentialSource? {
        guard case .s3 = location else { return nil }
        return try credentialChain(environment: environment).resolve(configured: staticCredentials)
    }

    /// Why an `s3://` store would have no credentials, else nil: the chain finds no source, or
    /// only instance metadata, which then does not answer (checked once by a fetch, so a worker
    /// off EC2 stops at start instead of at its first upload).
    package func missingCredentials(environment: [String: String] = ProcessInfo.processInfo.environment,
                                    logger: Logger = Logger(label: "lakewriter")) async -> String? {
        let source: CredentialSource?
        do { source = try credentialSource(environment: environment) } catch let error as ObjectStoreError {
            return "storage: \(error.message)"
        } catch {
            return "storage: \(error)"
        }
        guard case .instanceMetadata(_, let fallback?)? = source else { return nil }
        do {
            _ = try await credentialChain(environment: environment).provider(source!, logger: logger).credentials()
            return nil
        } catch let error as ObjectStoreError {
            return "storage: \(error.message)"
        } catch {
            return "storage: no S3 credentials found; tried: \(fallback); \(error)"
        }
    }

    /// Keys given in the configuration (both present and non-empty), else nil: the store then
    /// uses the rest of the credential chain.
    package var staticCredentials: S3Credentials? {
        guard let id = accessKeyID, !id.isEmpty, let secret = secretAccessKey, !secret.isEmpty else { return nil }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: sessionToken)
    }

    /// Writer options of uploads: the configured part size (at least S3's minimum).
    package var writerOptions: ObjectWriterOptions {
        var options = ObjectWriterOptions()
        options.partSize = max(Int(partSize), ObjectWriterOptions.minimumPartSize)
        return options
    }
}

extension ParquetConfig {
    /// The writer settings of this configuration (codec and level, row group and page sizes,
    /// dictionary): the one mapping the worker, `convert` and the backfill use.
    package var writerProperties: WriterProperties {
        var w = WriterProperties()
        switch compression {
        case .none: w.compression = .uncompressed
        case .snappy: w.compression = .snappy
        case .gzip: w.compression = .gzip(level: compressionLevel ?? 6)
        case .zstd: w.compression = .zstd(level: compressionLevel ?? 3)
        case .lz4Raw: w.compression = .lz4Raw
        }
        w.maxRowGroupRows = rowGroupRows
        w.maxRowGroupBytes = Int(rowGroupBytes)
        w.dataPageSize = Int(pageBytes)
        w.dictionaryEnabled = dictionary
        return w
    }
}
