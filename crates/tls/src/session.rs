//! A terminated connection's TLS state, without I/O: bytes received go in, plaintext and
//! bytes to send come out. [`crate::conn::TlsConn`] moves the bytes.
//!
//! Two phases. During the handshake rustls's unbuffered connection runs everything, and
//! the plaintext it decrypts (0-RTT data, or what came with the client's Finished) is kept in
//! `ready`. Once the handshake is complete, rustls hands over the traffic keys and keeps
//! only what a key update needs ([`KernelConnection`]); records are then opened in place in
//! `input` and sealed in place in `output` ([`Protection`]).

use crate::record::{
    self, ALERT, APPLICATION_DATA, HANDSHAKE, Opened, Protection, invalid, record_len,
};
use bytes::BytesMut;
use rustls::kernel::KernelConnection;
use rustls::pki_types::CertificateDer;
use rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use rustls::unbuffered::{ConnectionState, InsufficientSizeError};
use rustls::{Error, PeerMisbehaved, ProtocolVersion, SupportedCipherSuite};
use std::io;
use std::ops::Range;

/// How much a read from the socket asks for at least.
const READ_SIZE: usize = 8 * 1024;
/// How much plaintext one write seals at most, so that the send buffer stays bounded.
const WRITE_LIMIT: usize = 4 * record::MAX_PLAIN;
/// Empty records, ignored warning alerts and key updates in a row that a peer may send.
const STRIKES: u8 = 32;

pub(crate) struct Session {
    phase: Phase,
    /// TLS bytes received; those from `start` are not processed yet.
    input: BytesMut,
    start: usize,
    /// Decrypted plaintext in `input` (before `start`), not read yet.
    plain: Range<usize>,
    /// Plaintext decrypted during the handshake, read first; `ready_read` of it is read.
    ready: Vec<u8>,
    ready_read: usize,
    /// 0-RTT data arrived (it is the start of `ready`).
    pub(crate) early_data: bool,
    /// TLS bytes to send; `sent` of them are sent.
    output: Vec<u8>,
    sent: usize,
    /// close_notify received, or the socket's end.
    pub(crate) ended: bool,
    /// close_notify or a fatal alert queued: no record may follow it.
    pub(crate) closing: bool,
    renegotiations: u8,
    strikes: u8,
    /// Times the peer misbehaved after the handshake (bad records, renegotiation attempts):
    /// compared before and after a step to count them.
    pub(crate) misbehaved: u32,
    /// Negotiated in the handshake, kept for after it.
    alpn: Option<Vec<u8>>,
    peer: Option<CertificateDer<'static>>,
}

enum Phase {
    Handshake(Box<UnbufferedServerConnection>),
    Traffic(Box<Traffic>),
    /// The handshake failed, or its end could not be turned into traffic keys.
    Failed,
}

struct Traffic {
    records: Protection,
    keys: KernelConnection<ServerConnectionData>,
}

/// What a step of [`Session::step`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Something changed: look for plaintext or output again.
    Progress,
    /// Nothing to do until more bytes arrive.
    Blocked,
}

impl Session {
    /// A connection whose first bytes (the ClientHello, and what came after it) are `input`.
    pub(crate) fn new(tls: UnbufferedServerConnection, input: &[u8]) -> Session {
        Session {
            phase: Phase::Handshake(Box::new(tls)),
            input: BytesMut::from(input),
            start: 0,
            plain: 0..0,
            ready: Vec::new(),
            ready_read: 0,
            early_data: false,
            output: Vec::new(),
            sent: 0,
            ended: false,
            closing: false,
            renegotiations: 0,
            strikes: 0,
            misbehaved: 0,
            alpn: None,
            peer: None,
        }
    }

    /// Whether the client has not finished the handshake (rustls's view: it can be done
    /// while its last states are still to be stepped through).
    pub(crate) fn is_handshaking(&self) -> bool {
        match &self.phase {
            Phase::Handshake(tls) => tls.is_handshaking(),
            Phase::Traffic(_) => false,
            Phase::Failed => true,
        }
    }

    /// Whether records are Fulcrum's to open and seal now.
    pub(crate) fn in_traffic(&self) -> bool {
        matches!(self.phase, Phase::Traffic(_))
    }

    /// Plaintext decrypted during the handshake, not all read yet.
    fn has_ready(&self) -> bool {
        self.ready_read < self.ready.len()
    }

    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        match &self.phase {
            Phase::Handshake(tls) => tls.alpn_protocol(),
            _ => self.alpn.as_deref(),
        }
    }

    pub(crate) fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        match &self.phase {
            Phase::Handshake(tls) => tls.peer_certificates()?.first(),
            _ => self.peer.as_ref(),
        }
    }

    /// Whether a read would return without more bytes from the socket.
    pub(crate) fn readable(&self) -> bool {
        self.has_ready()
            || !self.plain.is_empty()
            || self.ended
            || !self.in_traffic()
            || record_len(&self.input[self.start..])
                .is_some_and(|n| n <= self.input.len() - self.start)
    }

    /// What a read returns from what is decrypted: handshake plaintext first, then the
    /// current record's. `None` when nothing is (step, or read the socket).
    pub(crate) fn plaintext(&mut self, take: &mut impl FnMut(&[u8]) -> usize) -> Option<usize> {
        if self.has_ready() {
            let n = take(&self.ready[self.ready_read..]);
            self.ready_read += n;
            if self.ready_read == self.ready.len() {
                self.ready = Vec::new();
                self.ready_read = 0;
            }
            return Some(n);
        }
        if !self.plain.is_empty() {
            let n = take(&self.input[self.plain.clone()]);
            self.plain.start += n;
            self.release_input();
            return Some(n);
        }
        self.ended.then_some(0)
    }

    /// Lets the read buffer go once everything in it is processed and read: an idle
    /// connection holds none.
    fn release_input(&mut self) {
        if self.plain.is_empty() && self.start == self.input.len() {
            self.input = BytesMut::new();
            self.start = 0;
        }
    }

    /// Makes room for a read from the socket and returns the buffer to read into (its spare
    /// capacity). Only when no plaintext is left in `input`.
    pub(crate) fn input_for_read(&mut self) -> &mut BytesMut {
        debug_assert!(self.plain.is_empty());
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        } else if self.start > 0 {
            let len = self.input.len();
            self.input.copy_within(self.start.., 0);
            self.input.truncate(len - self.start);
            self.start = 0;
        }
        let wanted = record_len(&self.input)
            .unwrap_or(0)
            .saturating_sub(self.input.len());
        self.input.reserve(wanted.max(READ_SIZE));
        &mut self.input
    }

    /// Processes what has been received, one handshake state or one record at a time.
    pub(crate) fn step(&mut self) -> io::Result<Step> {
        match &mut self.phase {
            Phase::Handshake(_) => Ok(self.handshake_step(None)?.0),
            Phase::Traffic(_) => self.traffic_step().inspect_err(|e| self.fatal_alert(e)),
            Phase::Failed => Err(invalid(Error::HandshakeNotComplete)),
        }
    }

    /// One handshake state; with `half_rtt`, application data to encrypt if rustls can send
    /// it (how much of it it took).
    fn handshake_step(&mut self, half_rtt: Option<&[u8]>) -> io::Result<(Step, Option<usize>)> {
        let Phase::Handshake(tls) = &mut self.phase else {
            return Err(invalid(Error::HandshakeNotComplete));
        };
        let mut writable = false;
        let status = tls.process_tls_records(&mut self.input[self.start..]);
        let discard = status.discard;
        let step = match status.state {
            Ok(ConnectionState::EncodeTlsData(mut data)) => {
                fill(&mut self.output, |out| {
                    data.encode(out).map_err(|e| match e {
                        rustls::unbuffered::EncodeError::InsufficientSize(s) => Some(s),
                        _ => None,
                    })
                })?;
                Step::Progress
            }
            Ok(ConnectionState::TransmitTlsData(data)) => {
                // The bytes are in `output`, in order; they go before anything that follows.
                data.done();
                Step::Progress
            }
            Ok(ConnectionState::ReadEarlyData(mut early)) => {
                while let Some(r) = early.next_record() {
                    self.ready.extend_from_slice(r.map_err(invalid)?.payload);
                    self.early_data = true;
                }
                Step::Progress
            }
            Ok(ConnectionState::ReadTraffic(mut data)) => {
                while let Some(r) = data.next_record() {
                    self.ready.extend_from_slice(r.map_err(invalid)?.payload);
                }
                Step::Progress
            }
            Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                self.ended = true;
                Step::Progress
            }
            // Writable: the handshake is complete, or (half-RTT) the client has not finished.
            Ok(ConnectionState::WriteTraffic(mut write)) => match half_rtt {
                Some(data) => {
                    let n = data.len().min(record::MAX_PLAIN);
                    fill(&mut self.output, |out| {
                        write.encrypt(&data[..n], out).map_err(|e| match e {
                            rustls::unbuffered::EncryptError::InsufficientSize(s) => Some(s),
                            _ => None,
                        })
                    })?;
                    self.start += discard;
                    return Ok((Step::Progress, Some(n)));
                }
                None => {
                    writable = true;
                    Step::Progress
                }
            },
            Ok(_) => Step::Blocked,
            Err(e) => {
                self.start += discard;
                self.failed_handshake();
                return Err(invalid(e));
            }
        };
        self.start += discard;
        if writable {
            if tls.is_handshaking() {
                return Ok((Step::Blocked, None));
            }
            self.start_traffic()?;
        }
        Ok((step, None))
    }

    /// Queues the alert rustls made for a failed handshake, if any.
    fn failed_handshake(&mut self) {
        if let Phase::Handshake(tls) = &mut self.phase {
            let status = tls.process_tls_records(&mut []);
            if let Ok(ConnectionState::EncodeTlsData(mut data)) = status.state {
                let _ = fill(&mut self.output, |out| data.encode(out).map_err(|_| None));
            }
        }
        self.phase = Phase::Failed;
    }

    /// Encrypts `data` at half-RTT (0-RTT accepted, the client's Finished not received yet)
    /// with rustls, after processing what is pending: how much it took, or `None` when the
    /// handshake cannot carry application data now (or has just completed).
    pub(crate) fn write_half_rtt(&mut self, data: &[u8]) -> io::Result<Option<usize>> {
        while matches!(self.phase, Phase::Handshake(_)) {
            match self.handshake_step(Some(data))? {
                (_, Some(n)) => return Ok(Some(n)),
                (Step::Blocked, None) => return Ok(None),
                (Step::Progress, None) => {}
            }
        }
        Ok(None)
    }

    /// The handshake is complete: from here on, records are Fulcrum's to open and seal.
    fn start_traffic(&mut self) -> io::Result<()> {
        let Phase::Handshake(tls) = std::mem::replace(&mut self.phase, Phase::Failed) else {
            return Err(invalid(Error::HandshakeNotComplete));
        };
        self.alpn = tls.alpn_protocol().map(<[u8]>::to_vec);
        self.peer = tls.peer_certificates().and_then(|c| c.first()).cloned();
        let (secrets, keys) = tls.dangerous_into_kernel_connection().map_err(invalid)?;
        let tls13 = keys.protocol_version() == ProtocolVersion::TLSv1_3;
        let records = Protection::new(
            tls13,
            secrets.rx,
            secrets.tx,
            tx_limit(keys.negotiated_cipher_suite()),
        )?;
        self.phase = Phase::Traffic(Box::new(Traffic { records, keys }));
        Ok(())
    }

    fn traffic_step(&mut self) -> io::Result<Step> {
        let Phase::Traffic(t) = &mut self.phase else {
            return Err(invalid(Error::HandshakeNotComplete));
        };
        let start = self.start;
        let Some(Opened { kind, plain, len }) = t.records.open(&mut self.input[start..])? else {
            return Ok(Step::Blocked);
        };
        self.start += len;
        let plain = start + plain.start..start + plain.end;
        match kind {
            APPLICATION_DATA if plain.is_empty() => self.strike()?,
            APPLICATION_DATA => {
                self.strikes = 0;
                self.plain = plain;
            }
            ALERT => self.alert(plain)?,
            HANDSHAKE => self.post_handshake(plain)?,
            _ => {
                return Err(invalid(Error::InvalidMessage(
                    rustls::InvalidMessage::InvalidContentType,
                )));
            }
        }
        self.release_input();
        Ok(Step::Progress)
    }

    /// Queues the alert that tells the peer why the connection ends (RFC 8446 §6.2), for an
    /// error of the peer's making; once, and not in answer to the peer's own alert.
    fn fatal_alert(&mut self, e: &io::Error) {
        use rustls::AlertDescription as A;
        let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<Error>()) else {
            return;
        };
        let what = match tls {
            Error::DecryptError => A::BadRecordMac,
            Error::PeerSentOversizedRecord => A::RecordOverflow,
            Error::InvalidMessage(_) | Error::PeerMisbehaved(_) => A::UnexpectedMessage,
            _ => return,
        };
        self.misbehaved = self.misbehaved.wrapping_add(1);
        if let Phase::Traffic(t) = &mut self.phase
            && !self.closing
        {
            self.closing = true;
            let _ = seal_alert(&mut t.records, &mut self.output, 2, u8::from(what));
        }
    }

    fn strike(&mut self) -> io::Result<()> {
        self.strikes += 1;
        if self.strikes > STRIKES {
            return Err(invalid(Error::PeerMisbehaved(
                PeerMisbehaved::TooManyEmptyFragments,
            )));
        }
        Ok(())
    }

    /// close_notify ends the stream; a warning is ignored; anything else is the peer's error.
    fn alert(&mut self, at: Range<usize>) -> io::Result<()> {
        let &[level, what] = &self.input[at] else {
            return Err(invalid(Error::InvalidMessage(
                rustls::InvalidMessage::MessageTooShort,
            )));
        };
        let what = rustls::AlertDescription::from(what);
        let tls13 = matches!(&self.phase, Phase::Traffic(t) if t.records.tls13());
        match what {
            rustls::AlertDescription::CloseNotify => {
                self.ended = true;
                Ok(())
            }
            // TLS 1.2 warnings; in TLS 1.3 every alert but these two is fatal.
            rustls::AlertDescription::UserCanceled => self.strike(),
            _ if level == 1 && !tls13 => self.strike(),
            _ => Err(invalid(Error::AlertReceived(what))),
        }
    }

    /// A handshake message after the handshake: a key update (TLS 1.3), or a renegotiation
    /// attempt (TLS 1.2), turned down with a warning the first time and an error after.
    fn post_handshake(&mut self, at: Range<usize>) -> io::Result<()> {
        let Phase::Traffic(t) = &mut self.phase else {
            return Err(invalid(Error::HandshakeNotComplete));
        };
        if !t.records.tls13() {
            self.renegotiations += 1;
            if self.renegotiations > 1 {
                return Err(invalid(Error::PeerMisbehaved(
                    PeerMisbehaved::TooManyRenegotiationRequests,
                )));
            }
            // A warning no_renegotiation alert (the second attempt is an error, counted as
            // such in `fatal_alert`).
            self.misbehaved = self.misbehaved.wrapping_add(1);
            seal_alert(&mut t.records, &mut self.output, 1, 100)?;
            return Ok(());
        }
        // KeyUpdate (type 24, length 1), last in its record (RFC 8446 §5.1): update_requested
        // (1) or not (0).
        let [24, 0, 0, 1, requested @ (0 | 1)] = self.input[at] else {
            return Err(invalid(Error::InvalidMessage(
                rustls::InvalidMessage::UnexpectedMessage("handshake message after the handshake"),
            )));
        };
        let secrets = t.keys.update_rx_secret().map_err(invalid)?;
        t.records.set_rx(secrets)?;
        self.strike()?;
        if requested == 1 {
            self.update_tx_key()?;
        }
        Ok(())
    }

    /// Sends a KeyUpdate (not asking the peer for one) and switches to the next send key.
    fn update_tx_key(&mut self) -> io::Result<()> {
        let Phase::Traffic(t) = &mut self.phase else {
            return Err(invalid(Error::HandshakeNotComplete));
        };
        if !t.records.tls13() {
            // TLS 1.2 has no key update: the connection has carried all it may.
            return Err(invalid(Error::EncryptError));
        }
        t.records.seal(
            HANDSHAKE,
            &[&[24u8, 0, 0, 1, 0][..]],
            usize::MAX,
            &mut self.output,
        )?;
        let secrets = t.keys.update_tx_secret().map_err(invalid)?;
        t.records.set_tx(secrets)
    }

    /// Seals application data (at most [`WRITE_LIMIT`] bytes of it) into `output`: how much
    /// it took. Only after the handshake.
    pub(crate) fn write<T: std::ops::Deref<Target = [u8]>>(
        &mut self,
        parts: &[T],
    ) -> io::Result<usize> {
        if self.closing {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if matches!(&self.phase, Phase::Traffic(t) if t.records.tx_worn()) {
            self.update_tx_key()?;
        }
        let Phase::Traffic(t) = &mut self.phase else {
            return Err(invalid(Error::HandshakeNotComplete));
        };
        t.records
            .seal(APPLICATION_DATA, parts, WRITE_LIMIT, &mut self.output)
    }

    /// Queues close_notify (after the handshake; before it, the connection just ends).
    pub(crate) fn close_notify(&mut self) -> io::Result<()> {
        self.closing = true;
        if let Phase::Traffic(t) = &mut self.phase {
            seal_alert(&mut t.records, &mut self.output, 1, 0)?;
        }
        Ok(())
    }

    /// Bytes still to send.
    pub(crate) fn unsent(&self) -> &[u8] {
        &self.output[self.sent..]
    }

    /// `n` more bytes were sent.
    pub(crate) fn advance_sent(&mut self, n: usize) {
        self.sent += n;
        if self.sent == self.output.len() {
            self.output = Vec::new();
            self.sent = 0;
        }
    }
}

/// Appends an alert record (`level` 1 warning, 2 fatal) to `out`.
fn seal_alert(records: &mut Protection, out: &mut Vec<u8>, level: u8, what: u8) -> io::Result<()> {
    records.seal(ALERT, &[&[level, what][..]], usize::MAX, out)?;
    Ok(())
}

/// Appends what `write` produces to `out`, growing it as `write` asks (`Err(Some(size))`).
fn fill(
    out: &mut Vec<u8>,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Option<InsufficientSizeError>>,
) -> io::Result<()> {
    let mut room = 2048;
    loop {
        let len = out.len();
        out.resize(len + room, 0);
        match write(&mut out[len..]) {
            Ok(n) => {
                out.truncate(len + n);
                return Ok(());
            }
            Err(Some(e)) if e.required_size > room => {
                out.truncate(len);
                room = e.required_size;
            }
            Err(_) => {
                out.truncate(len);
                return Err(invalid(Error::EncryptError));
            }
        }
    }
}

/// Records the send key may protect: the suite's confidentiality limit, less a margin for
/// the records one write makes.
fn tx_limit(suite: SupportedCipherSuite) -> u64 {
    let limit = match suite {
        SupportedCipherSuite::Tls13(s) => s.common.confidentiality_limit,
        SupportedCipherSuite::Tls12(s) => s.common.confidentiality_limit,
    };
    limit.saturating_sub(1024)
}
