import Foundation
import LakeDecoding
import LakeModel
import LakeOutput
import Logging
import NIOCore
import ObjectStore
import Parquet

/// The table's state at a version: what a checkpoint holds.
package struct DeltaState: Sendable {
    package var protocolAction: JSONValue?
    package var metadataAction: JSONValue?
    /// Live files by (decoded) path: their `add` action.
    package var adds: [String: JSONValue] = [:]
    /// Tombstones by path: their `remove` action (kept for vacuum safety).
    package var removes: [String: JSONValue] = [:]
    /// Latest `txn` per appId.
    package var txns: [String: JSONValue] = [:]

    package init() {}

    /// Applies one commit's actions in order.
    package mutating func apply(_ actions: [JSONValue]) {
        for a in actions {
            if let p = a["protocol"] { protocolAction = p }
            if let m = a["metaData"] { metadataAction = m }
            if let add = a["add"], let path = add["path"]?.string {
                let key = DeltaPath.decode(path)
                adds[key] = add
                removes[key] = nil
            }
            if let r = a["remove"], let path = r["path"]?.string {
                let key = DeltaPath.decode(path)
                adds[key] = nil
                removes[key] = r
            }
            if let t = a["txn"], let app = t["appId"]?.string { txns[app] = t }
        }
    }

    /// One action per line, as a checkpoint lists them.
    package var actionLines: [String] {
        var out: [String] = []
        if let p = protocolAction { out.append(JSONValue.object(["protocol": p]).text) }
        if let m = metadataAction { out.append(JSONValue.object(["metaData": m]).text) }
        for k in txns.keys.sorted() { out.append(JSONValue.object(["txn": txns[k]!]).text) }
        for k in adds.keys.sorted() { out.append(JSONValue.object(["add": adds[k]!]).text) }
        for k in removes.keys.sorted() { out.append(JSONValue.object(["remove": removes[k]!]).text) }
        return out
    }
}

/// Classic Parquet checkpoints (`{version}.checkpoint.parquet` and `_last_checkpoint`), written
/// with our own Parquet writer: each action line of the state is decoded by an entity decoder
/// whose columns are the checkpoint schema of `PROTOCOL.md` (`txn`, `add`, `remove`, `metaData`,
/// `protocol`), so one row holds one action. Plain encoding without compression or dictionary,
/// which ``DeltaCheckpointReader`` reads back.
package enum DeltaCheckpoint {
    static let columns: [(String, String)] = [
        ("txn", "struct<appId:string, version:int64, lastUpdated:int64>"),
        ("add", "struct<path:string, partitionValues:map<string, string>, size:int64, modificationTime:int64, dataChange:bool, stats:string, tags:map<string, string>>"),
        ("remove", "struct<path:string, deletionTimestamp:int64, dataChange:bool, extendedFileMetadata:bool, partitionValues:map<string, string>, size:int64>"),
        ("metaData", "struct<id:string, name:string, description:string, format:struct<provider:string, options:map<string, string>>, schemaString:string, partitionColumns:list<string>, configuration:map<string, string>, createdTime:int64>"),
        ("protocol", "struct<minReaderVersion:int32, minWriterVersion:int32, readerFeatures:list<string>, writerFeatures:list<string>>"),
    ]

    static func entity() throws -> EntityConfig {
        var cols: [ColumnConfig] = []
        for (name, type) in columns {
            let (t, _) = try ColumnTypeParser.parseField(type)
            cols.append(ColumnConfig(name: name, type: t, nullable: true))
        }
        return EntityConfig(name: "checkpoint", stream: "-", payload: .json(field: "-"), unknownFields: .ignore, columns: cols)
    }

    package static func checkpointKey(_ log: DeltaLog, _ version: Int64) -> String {
        log.logPrefix + String(DeltaLog.commitName(version).dropLast(5)) + ".checkpoint.parquet"
    }

    /// The checkpoint file's bytes for `state`.
    package static func encode(_ state: DeltaState) throws -> (bytes: [UInt8], rows: Int) {
        let decoder = try EntityDecoder(entity: try entity())
        var batch = decoder.makeBatch()
        for line in state.actionLines {
            var text = line
            try text.withUTF8 { try decoder.decodeJSON(UnsafeRawBufferPointer($0), streamID: UnsafeRawBufferPointer(start: nil, count: 0), into: &batch) }
        }
        let file = try batch.removingTopLevelFields([SystemColumns.streamID])
        var props = WriterProperties()
        props.compression = .uncompressed
        props.dictionaryEnabled = false
        props.pageIndexEnabled = false
        props.statisticsEnabled = false
        let sink = BytesSink()
        let writer = try ParquetWriter(schema: file.schema, sink: sink, properties: props)
        try writer.write(file)
        _ = try writer.close()
        return (sink.bytes, file.rowCount)
    }

    /// Writes the checkpoint of `version` (the state after it) and points `_last_checkpoint` at it.
    package static func write(log: DeltaLog, version: Int64, state: DeltaState, logger: Logger) async throws {
        let (bytes, rows) = try encode(state)
        _ = try await log.store.put(key: checkpointKey(log, version), bytes: bytes)
        var last = #"{"version":"# + String(version)
        last += #","size":"# + String(rows)
        last += #","sizeInBytes":"# + String(bytes.count)
        last += #","numOfAddFiles":"# + String(state.adds.count) + "}"
        _ = try await log.store.put(key: log.logPrefix + "_last_checkpoint", bytes: Array(last.utf8))
        logger.info("delta checkpoint written", metadata: ["table": "\(log.root)", "version": "\(version)",
                                                          "files": .stringConvertible(state.adds.count)])
    }

    /// The state stored in the checkpoint of `version` (nil: none there).
    package static func read(log: DeltaLog, version: Int64) async throws -> DeltaState? {
        let body: ByteBuffer
        do { body = try await log.store.get(key: checkpointKey(log, version)) } catch let e as ObjectStoreError where e.code == .notFound {
            return nil
        }
        return try DeltaCheckpointReader.state(Array(body.readableBytesView))
    }
}

final class BytesSink: ParquetSink {
    var bytes: [UInt8] = []
    func write(_ b: UnsafeRawBufferPointer) throws { bytes += b }
    func close() throws {}
}
