import Foundation

/// Object-store access for the commands (s3:// outputs and inputs).
enum Storage {
    struct NotAvailable: Error, CustomStringConvertible {
        var description: String { "s3:// is not available in this build yet (use a local path)" }
    }

    // TODO: wire to the ObjectStore module once it lands on main.
    static func upload(file: String, bucket: String, key: String, storage: StorageConfig) async throws {
        throw NotAvailable()
    }

    static func download(bucket: String, key: String, to file: String, storage: StorageConfig) async throws {
        throw NotAvailable()
    }
}
