/// Thrift `SchemaElement`: one node of the schema tree, flattened depth-first.
/// Groups have `numChildren` and no `type`; leaves have a `type`.
public struct SchemaElement: ThriftCodable {
    public var type: PhysicalType?
    public var typeLength: Int32?
    public var repetitionType: FieldRepetitionType?
    public var name: String
    public var numChildren: Int32?
    public var convertedType: ConvertedType?
    public var scale: Int32?
    public var precision: Int32?
    public var fieldId: Int32?
    public var logicalType: LogicalType?

    public init(type: PhysicalType? = nil, typeLength: Int32? = nil, repetitionType: FieldRepetitionType? = nil,
                name: String, numChildren: Int32? = nil, convertedType: ConvertedType? = nil,
                scale: Int32? = nil, precision: Int32? = nil, fieldId: Int32? = nil, logicalType: LogicalType? = nil) {
        self.type = type
        self.typeLength = typeLength
        self.repetitionType = repetitionType
        self.name = name
        self.numChildren = numChildren
        self.convertedType = convertedType
        self.scale = scale
        self.precision = precision
        self.fieldId = fieldId
        self.logicalType = logicalType
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        if let type { w.writeI32Field(1, type.rawValue) }
        if let typeLength { w.writeI32Field(2, typeLength) }
        if let repetitionType { w.writeI32Field(3, repetitionType.rawValue) }
        w.writeStringField(4, name)
        if let numChildren { w.writeI32Field(5, numChildren) }
        if let convertedType { w.writeI32Field(6, convertedType.rawValue) }
        if let scale { w.writeI32Field(7, scale) }
        if let precision { w.writeI32Field(8, precision) }
        if let fieldId { w.writeI32Field(9, fieldId) }
        if let logicalType {
            w.writeFieldHeader(type: .struct, id: 10)
            logicalType.encode(into: &w)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var name: String?
        try r.readStructBegin()
        while let (type, id) = try r.readFieldHeader() {
            switch id {
            case 1 where type == .i32: self.type = try .read(&r, "SchemaElement.type")
            case 2 where type == .i32: typeLength = try r.readI32()
            case 3 where type == .i32:
                // VECTOR (3) and later repetitions are unknown here: leave it unset.
                let raw = try r.readI32()
                repetitionType = FieldRepetitionType(rawValue: raw)
            case 4 where type == .binary: name = try r.readString()
            case 5 where type == .i32: numChildren = try r.readI32()
            case 6 where type == .i32: convertedType = ConvertedType(rawValue: try r.readI32())
            case 7 where type == .i32: scale = try r.readI32()
            case 8 where type == .i32: precision = try r.readI32()
            case 9 where type == .i32: fieldId = try r.readI32()
            case 10 where type == .struct: logicalType = try LogicalType.readIfKnown(from: &r)
            default: try r.skip(type)
            }
        }
        r.readStructEnd()
        guard let name else { throw r.missing("SchemaElement.name") }
        self.name = name
    }
}

/// Thrift `KeyValue`: one entry of file or column key-value metadata.
public struct KeyValue: ThriftCodable {
    public var key: String
    public var value: String?

    public init(key: String, value: String? = nil) {
        self.key = key
        self.value = value
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeStringField(1, key)
        if let value { w.writeStringField(2, value) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var key: String?
        try r.readStructBegin()
        while let (type, id) = try r.readFieldHeader() {
            switch id {
            case 1 where type == .binary: key = try r.readString()
            case 2 where type == .binary: value = try r.readString()
            default: try r.skip(type)
            }
        }
        r.readStructEnd()
        guard let key else { throw r.missing("KeyValue.key") }
        self.key = key
    }
}
