import CNGHTTP2

/// What the session reports to the connection that owns it. Every call happens on the connection's event
/// loop, inside `receive` or `drainOutput`.
protocol NGHTTP2SessionDelegate: AnyObject {
    func streamBegan(_ streamID: Int32)
    /// Returns false to reset the stream. The bytes are valid only during the call; nghttp2 has validated
    /// the name (lower-case; pseudo-headers known, and only before the others).
    func streamHeader(_ streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool
    func streamHeadersComplete(_ streamID: Int32, endStream: Bool)
    /// Says what becomes of the bytes' flow-control credit (see ``NGHTTP2DataVerdict``).
    func streamData(_ streamID: Int32, _ bytes: UnsafeRawBufferPointer) -> NGHTTP2DataVerdict
    func streamEnded(_ streamID: Int32)
    func streamClosed(_ streamID: Int32, errorCode: UInt32)
    /// Copies up to `buffer.count` bytes of the response body; `deferred` when none are ready yet.
    func streamReadBody(_ streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, endOfBody: Bool, deferred: Bool)
}

/// What a connection does with a chunk of a request body, which decides when the client may send more.
///
/// The session runs without nghttp2's automatic WINDOW_UPDATEs. Connection-level credit is always returned at
/// once, so one stream whose handler reads slowly never holds up the others; stream-level credit is
/// returned at once for bodies the server collects, and only as the handler reads for streamed ones, so a
/// fast uploader can be at most one stream window ahead of the handler.
enum NGHTTP2DataVerdict {
    /// Taken (collected, or dropped): the stream's window reopens now.
    case consumed
    /// Held for a handler: the connection returns the credit with ``NGHTTP2Session/consume(streamID:bytes:)``
    /// as the handler reads, or never (the stream is reset or the body discarded).
    case deferred
    /// Reset the stream with CANCEL.
    case reset
}

/// Errors from nghttp2 that end a connection.
struct NGHTTP2Failure: Error, CustomStringConvertible {
    let code: Int32
    var description: String { String(cString: nghttp2_strerror(code)) }

    /// The GOAWAY error code that tells the peer why: floods get ENHANCE_YOUR_CALM, a broken header block
    /// COMPRESSION_ERROR, anything else PROTOCOL_ERROR.
    var goawayErrorCode: UInt32 {
        switch code {
        case NGHTTP2_ERR_FLOODED.rawValue, NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue: NGHTTP2_ENHANCE_YOUR_CALM.rawValue
        case NGHTTP2_ERR_HEADER_COMP.rawValue: NGHTTP2_COMPRESSION_ERROR.rawValue
        default: NGHTTP2_PROTOCOL_ERROR.rawValue
        }
    }
}

/// A server-side `nghttp2_session` used in memory mode: bytes in through ``receive(_:)``, bytes out through
/// ``drainOutput(into:)``. All unsafe code of the HTTP/2 layer lives here.
///
/// The session reaches its Swift owner through nghttp2's `user_data`, an unretained pointer to this object;
/// that is safe because the C session is deleted in ``close()``/`deinit`, before this object goes away.
final class NGHTTP2Session {
    private var session: OpaquePointer?
    /// Unretained and by concrete type (callbacks run several times per request): the handler owns this session and
    /// closes it in `handlerRemoved`, before it goes away itself (docs/adr/0001-nghttp2-for-http2.md).
    var delegate: Unmanaged<HTTP2ConnectionHandler>?

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
            guard let frame else { return 0 }
            if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                NGHTTP2Session.withDelegate(userData) { $0.streamBegan(frame.pointee.hd.stream_id) }
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value else { return 0 }
            guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            let keep = NGHTTP2Session.withDelegate(userData) {
                $0.streamHeader(
                    frame.pointee.hd.stream_id,
                    name: UnsafeRawBufferPointer(start: name, count: nameLength),
                    value: UnsafeRawBufferPointer(start: value, count: valueLength)
                )
            } ?? true
            return keep ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame else { return 0 }
            let header = frame.pointee.hd
            let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch Int(header.type) {
            case Int(NGHTTP2_HEADERS.rawValue) where frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST:
                NGHTTP2Session.withDelegate(userData) { $0.streamHeadersComplete(header.stream_id, endStream: endStream) }
            case Int(NGHTTP2_HEADERS.rawValue) where endStream, Int(NGHTTP2_DATA.rawValue) where endStream:
                NGHTTP2Session.withDelegate(userData) { $0.streamEnded(header.stream_id) }
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { session, _, streamID, data, length, userData in
            guard let session, let data else { return 0 }
            nghttp2_session_consume_connection(session, length)
            let verdict = NGHTTP2Session.withDelegate(userData) { $0.streamData(streamID, UnsafeRawBufferPointer(start: data, count: length)) } ?? .consumed
            switch verdict {
            case .consumed:
                nghttp2_session_consume_stream(session, streamID, length)
            case .deferred:
                break
            case .reset:
                nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            NGHTTP2Session.withDelegate(userData) { $0.streamClosed(streamID, errorCode: errorCode) }
            return 0
        }

        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0, let option else { throw NGHTTP2Failure(code: NGHTTP2_ERR_NOMEM.rawValue) }
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_stream_reset_rate_limit(option, settings.streamResetBurst, settings.streamResetRate)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_outbound_ack(option, 1000)
        // Window updates follow what handlers consumed (see NGHTTP2DataVerdict); nghttp2 itself still counts
        // padding and DATA on closed streams as consumed.
        nghttp2_option_set_no_auto_window_update(option, 1)

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

    /// Runs `body` with the session's delegate, without retaining either: nghttp2 calls back only from
    /// inside ``receive(_:)`` and ``drainOutput(limit:_:)``, while the owner holds both. Callbacks run several
    /// times per request, so the retain and release pairs they would otherwise cost add up.
    @inline(__always)
    private static func withDelegate<Result>(_ userData: UnsafeMutableRawPointer?, _ body: (HTTP2ConnectionHandler) -> Result) -> Result? {
        guard let userData else { return nil }
        return Unmanaged<NGHTTP2Session>.fromOpaque(userData)._withUnsafeGuaranteedRef { owner in
            owner.delegate?._withUnsafeGuaranteedRef { body($0) }
        }
    }

    /// Takes over a connection upgraded from HTTP/1.1 (`Upgrade: h2c`): applies the client's `HTTP2-Settings`
    /// payload and opens stream 1, half-closed, for the request that asked for the upgrade.
    func upgrade(settings: [UInt8], headRequest: Bool) throws {
        guard let session else { return }
        let status = settings.withUnsafeBufferPointer { payload in
            nghttp2_session_upgrade2(session, payload.baseAddress, payload.count, headRequest ? 1 : 0, nil)
        }
        if status != 0 { throw NGHTTP2Failure(code: status) }
    }

    /// Feeds received bytes; on a protocol error nghttp2 has queued GOAWAY, so drain the output, then close.
    func receive(_ bytes: UnsafeRawBufferPointer) throws {
        guard let session, let base = bytes.baseAddress else { return }
        let consumed = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if consumed < 0 { throw NGHTTP2Failure(code: Int32(consumed)) }
    }

    /// Hands the frames nghttp2 wants to send to `emit` (the bytes are valid only during the call) until at
    /// least `limit` bytes went out or nothing is left; returns false on a fatal error.
    func drainOutput(limit: Int = .max, _ emit: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard let session else { return true }
        var total = 0
        while total < limit {
            var pointer: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(session, &pointer)
            if length < 0 { return false }
            guard length > 0, let pointer else { return true }
            emit(UnsafeRawBufferPointer(start: pointer, count: length))
            total += length
        }
        return true
    }

    /// Whether nghttp2 has frames to send (a body waiting for data does not count).
    var wantsToWrite: Bool {
        guard let session else { return false }
        return nghttp2_session_want_write(session) != 0
    }

    /// Whether the session still expects to read or write; when neither, the connection can close.
    var isAlive: Bool {
        guard let session else { return false }
        return nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0
    }

    /// Submits a response head, with `x-request-id` and `content-length` when given (replacing any in
    /// `headers`); the body is pulled through the delegate unless `hasBody` is false.
    func submitResponse(streamID: Int32, status: Int, headers: HTTPHeaders, requestID: String? = nil, contentLength: Int? = nil, hasBody: Bool) -> Bool {
        guard let session else { return false }
        // Names and values go into one stack buffer for the call (nghttp2 copies them); the server's own
        // static names are passed as they are.
        let status = min(max(status, 100), 999)
        let length = contentLength.map { max($0, 0) }
        var byteCount = 3 + (length.map { ByteCursor.digitCount($0) } ?? 0)
        var fieldCount = length == nil ? 1 : 2
        if let requestID {
            byteCount += requestID.utf8.count
            fieldCount += 1
        }
        for (name, value) in headers where !HTTPHeaders.isConnectionSpecific(name) {
            byteCount += name.utf8.count + value.utf8.count
            fieldCount += 1
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: byteCount) { bytes in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: fieldCount) { pairs in
                var cursor = ByteCursor(bytes)
                var fields = 0
                func field(_ name: (UnsafeMutablePointer<UInt8>, Int), _ value: (UnsafeMutablePointer<UInt8>, Int), indexed: Bool = true) {
                    let flags = indexed ? NGHTTP2_NV_FLAG_NONE : NGHTTP2_NV_FLAG_NO_INDEX
                    pairs[fields] = nghttp2_nv(name: name.0, value: value.0, namelen: name.1, valuelen: value.1, flags: UInt8(flags.rawValue))
                    fields += 1
                }
                // Names the server always sends are static text nghttp2 may point at rather than copy.
                func field(_ name: StaticString, _ value: (UnsafeMutablePointer<UInt8>, Int), indexed: Bool = true) {
                    let flags = (indexed ? NGHTTP2_NV_FLAG_NONE : NGHTTP2_NV_FLAG_NO_INDEX).rawValue | NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue
                    pairs[fields] = nghttp2_nv(
                        name: UnsafeMutablePointer(mutating: name.utf8Start), value: value.0, namelen: name.utf8CodeUnitCount, valuelen: value.1,
                        flags: UInt8(flags)
                    )
                    fields += 1
                }
                field(":status", cursor.append(decimal: status))
                if let length { field("content-length", cursor.append(decimal: length)) }
                for (name, value) in headers where !HTTPHeaders.isConnectionSpecific(name) {
                    let uniquePerResponse = Self.isUniquePerResponse(name)
                    if requestID != nil, uniquePerResponse { continue }
                    if length != nil, name.utf8.count == 14, name == "content-length" { continue }
                    field(cursor.append(name.utf8), cursor.append(value.utf8), indexed: !uniquePerResponse)
                }
                if let requestID { field("x-request-id", cursor.append(requestID.utf8), indexed: false) }
                var provider = nghttp2_data_provider()
                provider.read_callback = { _, streamID, buffer, length, flags, _, userData in
                    guard let buffer, let flags else { return ssize_t(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
                    guard let result = NGHTTP2Session.withDelegate(userData, { $0.streamReadBody(streamID, into: UnsafeMutableRawBufferPointer(start: buffer, count: length)) }) else {
                        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                        return 0
                    }
                    if result.deferred { return ssize_t(NGHTTP2_ERR_DEFERRED.rawValue) }
                    if result.endOfBody { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
                    return result.count
                }
                let result = hasBody
                    ? nghttp2_submit_response(session, streamID, pairs.baseAddress, fields, &provider)
                    : nghttp2_submit_response(session, streamID, pairs.baseAddress, fields, nil)
                return result == 0
            }
        }
    }

    /// Fields whose value differs in every response: kept out of the HPACK dynamic table, where each would
    /// only evict entries that repeat (and make every later lookup compare against it).
    private static func isUniquePerResponse(_ name: String) -> Bool {
        name.utf8.count == 12 && name == "x-request-id"
    }


    /// Returns `bytes` of a stream's flow-control credit once its handler has read them; nghttp2 sends a
    /// WINDOW_UPDATE when half the stream's window has been returned.
    func consume(streamID: Int32, bytes: Int) {
        guard let session, bytes > 0 else { return }
        nghttp2_session_consume_stream(session, streamID, bytes)
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

    /// Queues a GOAWAY that ends the session, unless nghttp2 already queued one (it does for most protocol
    /// errors, but not for every fatal one, e.g. a CONTINUATION flood); afterwards the session wants nothing more.
    func terminate(errorCode: UInt32) {
        guard let session else { return }
        nghttp2_session_terminate_session(session, errorCode)
    }

    /// The final GOAWAY, naming the last stream this server processed.
    func submitGoaway(errorCode: UInt32 = NGHTTP2_NO_ERROR.rawValue) {
        guard let session else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session), errorCode, nil, 0)
    }

    static let refusedStream = NGHTTP2_REFUSED_STREAM.rawValue
    static let cancel = NGHTTP2_CANCEL.rawValue
}
