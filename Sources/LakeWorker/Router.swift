import LakeModel
import LakeOutput
import LakeDecoding
import RedisStreams

/// Which entity an entry of a stream belongs to: the stream's only entity, or the one whose
/// `route` equals the entry's `redis.route_field` value.
struct Router {
    struct StreamRoutes {
        var stream: String
        /// The entity taking every entry (a stream with a single entity without `route`).
        var catchAll: Int?
        /// Route value → entity index.
        var routes: [(value: [UInt8], entity: Int)]
    }

    let routeField: [UInt8]
    private(set) var streams: [StreamRoutes] = []
    private var streamIndex: [String: Int] = [:]

    init(entities: [EntityConfig], routeField: String) {
        self.routeField = Array(routeField.utf8)
        for (i, e) in entities.enumerated() {
            let s: Int
            if let existing = streamIndex[e.stream] {
                s = existing
            } else {
                s = streams.count
                streamIndex[e.stream] = s
                streams.append(StreamRoutes(stream: e.stream, catchAll: nil, routes: []))
            }
            if let r = e.route {
                streams[s].routes.append((Array(r.utf8), i))
            } else {
                streams[s].catchAll = i
            }
        }
    }

    var streamNames: [String] { streams.map(\.stream) }

    func index(ofStream name: String) -> Int? { streamIndex[name] }

    enum Outcome: Equatable {
        case entity(Int)
        /// No `route_field` in the entry, or a value no entity declares.
        case unroutable(String)
    }

    /// The entity of entry `entry` of `batch` (stream index `s`).
    func route(stream s: Int, batch: StreamBatch, entry: Int) -> Outcome {
        let r = streams[s]
        if r.routes.isEmpty, let all = r.catchAll { return .entity(all) }
        let e = batch.entries[entry]
        for f in e.fieldIndices {
            let field = batch.fields[f]
            if batch.bytes[field.name].elementsEqual(routeField) {
                let value = batch.bytes[field.value]
                for (v, entity) in r.routes where value.elementsEqual(v) { return .entity(entity) }
                if let all = r.catchAll { return .entity(all) }
                return .unroutable("no entity has route \"\(String(decoding: value.prefix(64), as: UTF8.self))\" on stream \(r.stream)")
            }
        }
        if let all = r.catchAll { return .entity(all) }
        return .unroutable("entry has no \"\(String(decoding: routeField, as: UTF8.self))\" field to route it on stream \(r.stream)")
    }
}
