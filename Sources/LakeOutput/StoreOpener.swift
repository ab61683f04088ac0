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
    /// - Parameter url: another location opened with these settings (a command's `s3://` output
    ///   in another bucket); nil opens `url` of the configuration.
    package func openStore(url other: String? = nil, logger: Logger = Logger(label: "lakewriter"),
                           relativeTo directory: String = FileManager.default.currentDirectoryPath,
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
        return try makeObjectStore(url: url, options: options)
    }

    /// Keys given in the configuration (both present and non-empty), else nil: the store then
    /// falls back to `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
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
