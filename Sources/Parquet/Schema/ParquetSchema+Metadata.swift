// The schema as the footer's depth-first list of SchemaElements.
extension ParquetSchema {
    func schemaElements() -> [SchemaElement] {
        var out = [SchemaElement(name: name, numChildren: Int32(fields.count))]
        for f in fields { Self.append(f, repetition: f.isOptional ? .optional : .required, into: &out) }
        return out
    }

    private static func append(_ f: ParquetField, repetition: FieldRepetitionType, into out: inout [SchemaElement]) {
        switch f.type {
        case .list(let element):
            out.append(SchemaElement(repetitionType: repetition, name: f.name, numChildren: 1,
                                     convertedType: .list, logicalType: .list))
            out.append(SchemaElement(repetitionType: .repeated, name: "list", numChildren: 1))
            append(element, repetition: element.isOptional ? .optional : .required, into: &out)
        case .structure(let children):
            out.append(SchemaElement(repetitionType: repetition, name: f.name, numChildren: Int32(children.count)))
            for c in children { append(c, repetition: c.isOptional ? .optional : .required, into: &out) }
        case .map(let key, let value):
            out.append(SchemaElement(repetitionType: repetition, name: f.name, numChildren: 1,
                                     convertedType: .map, logicalType: .map))
            out.append(SchemaElement(repetitionType: .repeated, name: "key_value", numChildren: 2))
            append(.init(name: "key", isOptional: false, type: key.type), repetition: .required, into: &out)
            append(.init(name: "value", isOptional: value.isOptional, type: value.type),
                   repetition: value.isOptional ? .optional : .required, into: &out)
        default:
            out.append(leafElement(f.name, f.type, repetition))
        }
    }

    static func leafElement(_ name: String, _ type: ParquetType, _ repetition: FieldRepetitionType) -> SchemaElement {
        // Storage was validated when the schema was built.
        let storage = (try? ColumnDescriptor.storage(for: type, column: name)) ?? .byteArray
        var e = SchemaElement(type: storage.physicalType, repetitionType: repetition, name: name)
        if case .fixedLenByteArray(let n) = storage { e.typeLength = Int32(n) }
        switch type {
        case .boolean, .int32, .int64, .float, .double, .binary, .fixedBinary: break
        case .int8: e.logicalType = .integer(bitWidth: 8, isSigned: true); e.convertedType = .int8
        case .int16: e.logicalType = .integer(bitWidth: 16, isSigned: true); e.convertedType = .int16
        case .uint8: e.logicalType = .integer(bitWidth: 8, isSigned: false); e.convertedType = .uint8
        case .uint16: e.logicalType = .integer(bitWidth: 16, isSigned: false); e.convertedType = .uint16
        case .uint32: e.logicalType = .integer(bitWidth: 32, isSigned: false); e.convertedType = .uint32
        case .uint64: e.logicalType = .integer(bitWidth: 64, isSigned: false); e.convertedType = .uint64
        case .string: e.logicalType = .string; e.convertedType = .utf8
        case .json: e.logicalType = .json; e.convertedType = .json
        case .enumeration: e.logicalType = .enum; e.convertedType = .enum
        case .uuid: e.logicalType = .uuid
        case .date: e.logicalType = .date; e.convertedType = .date
        case .time(let unit, let utc):
            e.logicalType = .time(isAdjustedToUTC: utc, unit: unit.metadata)
            if unit == .millis { e.convertedType = .timeMillis } else if unit == .micros { e.convertedType = .timeMicros }
        case .timestamp(let unit, let utc):
            e.logicalType = .timestamp(isAdjustedToUTC: utc, unit: unit.metadata)
            if unit == .millis { e.convertedType = .timestampMillis } else if unit == .micros { e.convertedType = .timestampMicros }
        case .decimal(let p, let s):
            e.logicalType = .decimal(scale: Int32(s), precision: Int32(p))
            e.convertedType = .decimal
            e.scale = Int32(s)
            e.precision = Int32(p)
        case .list, .structure, .map: break
        }
        return e
    }
}

extension ParquetType.TimeUnitKind {
    var metadata: TimeUnit {
        switch self {
        case .millis: .millis
        case .micros: .micros
        case .nanos: .nanos
        }
    }
}
