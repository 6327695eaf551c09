import CNGHTTP2

/// What the session reports to the connection that owns it. Every call happens on the connection's event
/// loop, inside `receive` or `drainOutput`.
protocol NGHTTP2SessionDelegate: AnyObject {
    func streamBegan(_ streamID: Int32)
    /// Returns false to reset the stream (for example when its header block grew past the limit).
    func streamHeader(_ streamID: Int32, name: String, value: String) -> Bool
    func streamHeadersComplete(_ streamID: Int32, endStream: Bool)
    /// Returns false to reset the stream.
    func streamData(_ streamID: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool
    func streamEnded(_ streamID: Int32)
    func streamClosed(_ streamID: Int32, errorCode: UInt32)
    /// Copies up to `buffer.count` bytes of the response body; `deferred` when none are ready yet.
    func streamReadBody(_ streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, endOfBody: Bool, deferred: Bool)
}

/// Errors from nghttp2 that end a connection.
struct NGHTTP2Failure: Error, CustomStringConvertible {
    let code: Int32
    var description: String { String(cString: nghttp2_strerror(code)) }
}

/// A server-side `nghttp2_session` used in memory mode: bytes in through ``receive(_:)``, bytes out through
/// ``drainOutput(into:)``. All unsafe code of the HTTP/2 layer lives here.
///
/// The session reaches its Swift owner through nghttp2's `user_data`, an unretained pointer to this object;
/// that is safe because the C session is deleted in ``close()``/`deinit`, before this object goes away.
final class NGHTTP2Session {
    private var session: OpaquePointer?
    weak var delegate: (any NGHTTP2SessionDelegate)?

    struct Settings {
        var maximumConcurrentStreams: UInt32
        var maximumHeaderListSize: UInt32
        var initialWindowSize: UInt32 = 1 << 20
        var streamResetBurst: UInt64
        var streamResetRate: UInt64
    }

    init(settings: Settings) throws {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw NGHTTP2Failure(code: NGHTTP2_ERR_NOMEM.rawValue) }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, let owner = NGHTTP2Session.owner(userData) else { return 0 }
            if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                owner.delegate?.streamBegan(frame.pointee.hd.stream_id)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let owner = NGHTTP2Session.owner(userData), let name, let value else { return 0 }
            guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            let nameText = String(decoding: UnsafeRawBufferPointer(start: name, count: nameLength), as: UTF8.self)
            let valueText = String(decoding: UnsafeRawBufferPointer(start: value, count: valueLength), as: UTF8.self)
            let keep = owner.delegate?.streamHeader(frame.pointee.hd.stream_id, name: nameText, value: valueText) ?? true
            return keep ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame, let owner = NGHTTP2Session.owner(userData) else { return 0 }
            let header = frame.pointee.hd
            let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch Int(header.type) {
            case Int(NGHTTP2_HEADERS.rawValue) where frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST:
                owner.delegate?.streamHeadersComplete(header.stream_id, endStream: endStream)
            case Int(NGHTTP2_HEADERS.rawValue) where endStream, Int(NGHTTP2_DATA.rawValue) where endStream:
                owner.delegate?.streamEnded(header.stream_id)
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            guard let owner = NGHTTP2Session.owner(userData), let data else { return 0 }
            let keep = owner.delegate?.streamData(streamID, UnsafeRawBufferPointer(start: data, count: length)) ?? true
            if !keep, let session = owner.session {
                nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            NGHTTP2Session.owner(userData)?.delegate?.streamClosed(streamID, errorCode: errorCode)
            return 0
        }

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else { throw NGHTTP2Failure(code: NGHTTP2_ERR_NOMEM.rawValue) }
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_stream_reset_rate_limit(option, settings.streamResetBurst, settings.streamResetRate)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_outbound_ack(option, 1000)

        var created: OpaquePointer?
        let status = nghttp2_session_server_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        guard status == 0, let created else { throw NGHTTP2Failure(code: status) }
        session = created

        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maximumConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maximumHeaderListSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialWindowSize),
        ]
        nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
    }

    deinit { close() }

    /// Deletes the C session; later calls do nothing.
    func close() {
        if let session { nghttp2_session_del(session) }
        session = nil
    }

    private static func owner(_ userData: UnsafeMutableRawPointer?) -> NGHTTP2Session? {
        guard let userData else { return nil }
        return Unmanaged<NGHTTP2Session>.fromOpaque(userData).takeUnretainedValue()
    }

    /// Feeds received bytes; on a protocol error nghttp2 has queued GOAWAY, so drain the output, then close.
    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard let session, let base = bytes.baseAddress else { return }
        let consumed = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if consumed < 0 { throw NGHTTP2Failure(code: Int32(consumed)) }
    }

    /// Appends every frame nghttp2 wants to send to `output`; returns false on a fatal error.
    func drainOutput(into output: inout [UInt8]) -> Bool {
        guard let session else { return true }
        while true {
            var pointer: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(session, &pointer)
            if length < 0 { return false }
            guard length > 0, let pointer else { return true }
            output.append(contentsOf: UnsafeBufferPointer(start: pointer, count: length))
        }
    }

    /// Whether the session still expects to read or write; when neither, the connection can close.
    var isAlive: Bool {
        guard let session else { return false }
        return nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// Submits a response head; the body is pulled through the delegate unless `hasBody` is false.
    func submitResponse(streamID: Int32, status: Int, headers: HTTPHeaders, hasBody: Bool) -> Bool {
        guard let session else { return false }
        var storage: [(name: [UInt8], value: [UInt8])] = [(Array(":status".utf8), Array(String(status).utf8))]
        for (name, value) in headers where !Self.isConnectionSpecific(name) {
            storage.append((Array(name.utf8), Array(value.utf8)))
        }
        return Self.withNameValues(storage) { pairs in
            var provider = nghttp2_data_provider()
            provider.read_callback = { _, streamID, buffer, length, flags, _, userData in
                guard let owner = NGHTTP2Session.owner(userData), let buffer, let flags else {
                    return ssize_t(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
                }
                guard let delegate = owner.delegate else {
                    flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                    return 0
                }
                let result = delegate.streamReadBody(streamID, into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
                if result.deferred { return ssize_t(NGHTTP2_ERR_DEFERRED.rawValue) }
                if result.endOfBody { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
                return result.count
            }
            let status = hasBody
                ? nghttp2_submit_response(session, streamID, pairs.baseAddress, pairs.count, &provider)
                : nghttp2_submit_response(session, streamID, pairs.baseAddress, pairs.count, nil)
            return status == 0
        }
    }

    /// Tells nghttp2 that a deferred body has data again.
    func resumeBody(streamID: Int32) {
        guard let session else { return }
        nghttp2_session_resume_data(session, streamID)
    }

    func resetStream(_ streamID: Int32, errorCode: UInt32 = NGHTTP2_INTERNAL_ERROR.rawValue) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    /// The first step of a graceful shutdown: a GOAWAY with the maximum stream id.
    func submitShutdownNotice() {
        guard let session else { return }
        nghttp2_submit_shutdown_notice(session)
    }

    /// The final GOAWAY, naming the last stream this server processed.
    func submitGoaway(errorCode: UInt32 = NGHTTP2_NO_ERROR.rawValue) {
        guard let session else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session), errorCode, nil, 0)
    }

    static let refusedStream = NGHTTP2_REFUSED_STREAM.rawValue
    static let cancel = NGHTTP2_CANCEL.rawValue

    private static func isConnectionSpecific(_ name: String) -> Bool {
        name == "connection" || name == "keep-alive" || name == "transfer-encoding" || name == "upgrade" || name == "proxy-connection"
    }

    private static func withNameValues<T>(_ storage: [(name: [UInt8], value: [UInt8])], _ body: (UnsafeBufferPointer<nghttp2_nv>) -> T) -> T {
        // One contiguous copy keeps every name and value alive for the call; nghttp2 copies them itself.
        var bytes: [UInt8] = []
        var offsets: [(Int, Int, Int, Int)] = []
        for (name, value) in storage {
            offsets.append((bytes.count, name.count, bytes.count + name.count, value.count))
            bytes.append(contentsOf: name)
            bytes.append(contentsOf: value)
        }
        return bytes.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            let pairs = offsets.map { nameOffset, nameLength, valueOffset, valueLength in
                nghttp2_nv(name: base + nameOffset, value: base + valueOffset, namelen: nameLength, valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return pairs.withUnsafeBufferPointer { body($0) }
        }
    }
}
