import LakeModel
import Foundation
import Logging
import NIOCore
import ObjectStore
import Synchronization

/// Records schema versions (`unknown_fields: evolve`) as objects under `_schemas/ENTITY/`
/// of the worker's store, and finds the latest one again after a restart.
///
/// A version is written with `putIfAbsent`: recording the same version twice (two flushes
/// racing, or a retry after a lost response) is not an error, and a record, once stored,
/// is never replaced.
public struct ObjectStoreSchemaVersionStore: SchemaVersionStore {
    public let store: any ObjectStore

    public init(store: any ObjectStore) { self.store = store }

    public func record(_ schema: EntitySchema) async throws {
        var body = ByteBuffer()
        body.writeString(schema.jsonDescription)
        do {
            try await store.putIfAbsent(key: schema.recordKey, body: body)
        } catch let e as ObjectStoreError where e.code == .alreadyExists {
            return
        }
    }

    /// The newest recorded version of `entity` (nil when none was recorded), read back as the
    /// schema files of that version have: the declared columns of `entity` plus the recorded
    /// evolved ones.
    public func latest(entity: EntityConfig) async throws -> EntitySchema? {
        let prefix = "_schemas/\(entity.name)/"
        // Keys are `v` + zero-padded version, so the lexicographic maximum is the newest.
        guard let key = try await store.listAll(prefix: prefix).map(\.key)
            .filter({ $0.hasSuffix(".json") }).max()
        else { return nil }
        let body = try await store.get(key: key)
        return try SchemaRecord.decode(Data(body.readableBytesView), key: key, entity: entity)
    }
}

/// The JSON shape of a schema record (``EntitySchema/jsonDescription``). Read once per entity at
/// startup, so Foundation's decoder is fine here.
package struct SchemaRecord: Decodable {
    package struct Column: Decodable {
        var name: String
        var type: String
        var nullable: Bool
        var evolved: Bool?
    }
    package var entity: String
    package var version: Int
    package var columns: [Column]

    package struct Invalid: Error, CustomStringConvertible {
        package var key: String
        package var reason: String
        package var description: String { "schema record \(key): \(reason)" }
    }

    package static func decode(_ data: Data, key: String, entity: EntityConfig) throws -> EntitySchema {
        let r: SchemaRecord
        do {
            r = try JSONDecoder().decode(SchemaRecord.self, from: data)
        } catch {
            throw Invalid(key: key, reason: "not a schema record (\(error))")
        }
        guard r.entity == entity.name, r.version >= 1 else {
            throw Invalid(key: key, reason: "records entity \(r.entity) version \(r.version)")
        }
        var evolved: [ColumnConfig] = []
        for c in r.columns where c.evolved == true {
            guard let parsed = try? ColumnTypeParser.parseField(c.type) else {
                throw Invalid(key: key, reason: "column \(c.name) has an unknown type \(c.type)")
            }
            evolved.append(ColumnConfig(name: c.name, type: parsed.type, nullable: true))
        }
        // Declared columns come from the config (they never evolve); a column declared since the
        // record was written is no longer an evolved one.
        let declared = Set(entity.columns.map(\.name))
        evolved.removeAll { declared.contains($0.name) }
        var schema = EntitySchema(entity: entity)
        schema.version = r.version
        schema.evolved = evolved
        return schema
    }
}

/// The versions sealed buffers were decoded with but that are not yet known to be recorded.
/// A file is uploaded only after every version up to its own is recorded, so a reader that
/// finds a file also finds its schema.
///
/// Versions are queued from the ``WorkerState`` actor (synchronously, under a lock) and
/// recorded by the flush tasks; two flushes may record the same version, which
/// `putIfAbsent` makes harmless.
package final class SchemaRecorder: Sendable {
    package let store: any SchemaVersionStore
    private let pending = Mutex<[String: [EntitySchema]]>([:])

    package init(store: any SchemaVersionStore) { self.store = store }

    package func enqueue(_ schema: EntitySchema) {
        pending.withLock { $0[schema.entity, default: []].append(schema) }
    }

    /// Versions of `entity` up to `version` still to record, oldest first.
    package func unrecorded(entity: String, through version: Int) -> [EntitySchema] {
        pending.withLock { ($0[entity] ?? []).filter { $0.version <= version } }
    }

    package func markRecorded(_ schema: EntitySchema) {
        pending.withLock { $0[schema.entity]?.removeAll { $0.version == schema.version } }
    }
}
