/// A configuration problem, located by the dotted key path and the line of the YAML file,
/// so a user can go straight to the offending key.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the configuration came from, when it was read from one.
    public var file: String?
    /// 1-based line of the offending node in the file, when known.
    public var line: Int?
    /// Dotted key path, e.g. `entities.orders.columns.amount`; empty for the document itself.
    public var keyPath: String
    /// What is wrong, written for the user.
    public var message: String

    public init(file: String? = nil, line: Int?, keyPath: String, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var where_ = file ?? "config"
        if let line { where_ += ":\(line)" }
        return keyPath.isEmpty ? "\(where_): \(message)" : "\(where_): \(keyPath): \(message)"
    }
}
