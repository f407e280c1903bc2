//! TensorBoard event files, written by hand: the Rust TensorBoard crates are unmaintained, and
//! scalars need only a few dozen lines of the format.
//!
//! An event file is a sequence of TFRecords: `u64` length, masked CRC-32C of the length, the
//! payload, masked CRC-32C of the payload (all little-endian). Each payload is a serialized
//! `tensorflow.Event` protocol buffer; the first one carries `file_version = "brain.Event:2"`,
//! the others a wall time, a step and a `Summary` of `simple_value` scalars. Only the protobuf
//! fields we write are encoded (field numbers from tensorflow/core/util/event.proto and
//! summary.proto).
//!
//! On resume the whole file is regenerated from the rows kept in `metrics.jsonl`, so a
//! killed-and-resumed run has exactly one event per step and tag, as metrics.csv does.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of a run directory that holds the event file (point `tensorboard --logdir` at the
/// run directory or its parent).
pub const TENSORBOARD_DIR: &str = "tensorboard";
/// One file name for every run, so regenerating replaces it.
pub const EVENT_FILE: &str = "events.out.tfevents.carrot";

const CASTAGNOLI: u32 = 0x82F6_3B78;

fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut crc = i as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ CASTAGNOLI
            } else {
                crc >> 1
            };
        }
        *slot = crc;
    }
    table
}

/// CRC-32C (Castagnoli), as TFRecord uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(crc32c_table);
    let mut crc = !0u32;
    for &b in data {
        crc = table[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// TFRecord's masking of a CRC, so that CRCs of CRCs do not collide.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, ((field << 3) | wire_type) as u64);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `Event { wall_time = 1 (double), step = 2 (int64), file_version = 3 | summary = 5 }`.
fn event(wall_time: f64, step: i64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    key(&mut out, 1, 1);
    out.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        key(&mut out, 2, 0);
        varint(&mut out, step as u64);
    }
    body(&mut out);
    out
}

/// `Summary { repeated Value value = 1 }`, `Value { tag = 1, simple_value = 2 (float) }`.
fn summary(scalars: &[(&str, f64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, v) in scalars {
        let mut value = Vec::new();
        bytes_field(&mut value, 1, tag.as_bytes());
        key(&mut value, 2, 5);
        value.extend_from_slice(&(*v as f32).to_le_bytes());
        bytes_field(&mut out, 1, &value);
    }
    out
}

fn record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
    out
}

/// Appends scalar events to `<run>/tensorboard/events.out.tfevents.carrot`.
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

impl EventWriter {
    /// Starts a fresh event file (replacing an old one) with its version header.
    pub fn create(run_dir: &Path, wall_time: f64) -> std::io::Result<Self> {
        let dir = run_dir.join(TENSORBOARD_DIR);
        fs::create_dir_all(&dir)?;
        let path = dir.join(EVENT_FILE);
        let mut file = File::create(&path)?;
        let header = event(wall_time, 0, |out| {
            bytes_field(out, 3, b"brain.Event:2");
        });
        file.write_all(&record(&header))?;
        Ok(EventWriter { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one event with every finite scalar of `scalars` at `step`. Non-finite values mean
    /// "no value this step" in carrot's metrics and are left out.
    pub fn write_scalars(
        &mut self,
        step: i64,
        wall_time: f64,
        scalars: &[(&str, f64)],
    ) -> std::io::Result<()> {
        let finite: Vec<(&str, f64)> = scalars
            .iter()
            .copied()
            .filter(|(_, v)| v.is_finite())
            .collect();
        if finite.is_empty() {
            return Ok(());
        }
        let payload = event(wall_time, step, |out| bytes_field(out, 5, &summary(&finite)));
        self.file.write_all(&record(&payload))
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        // RFC 3720 B.4 and the common "123456789" check value of CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn records_frame_the_payload_with_length_and_crcs() {
        let payload = b"hello";
        let r = record(payload);
        assert_eq!(r.len(), 8 + 4 + 5 + 4);
        assert_eq!(u64::from_le_bytes(r[0..8].try_into().unwrap()), 5);
        let len_crc = u32::from_le_bytes(r[8..12].try_into().unwrap());
        assert_eq!(len_crc, masked_crc(&5u64.to_le_bytes()));
        assert_eq!(&r[12..17], payload);
        let data_crc = u32::from_le_bytes(r[17..21].try_into().unwrap());
        assert_eq!(data_crc, crc32c(payload).rotate_right(15).wrapping_add(0xa282_ead8));
    }

    #[test]
    fn varints_encode_like_protobuf() {
        let mut out = Vec::new();
        varint(&mut out, 1);
        varint(&mut out, 300);
        varint(&mut out, 1 << 35);
        assert_eq!(out, vec![0x01, 0xAC, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    }

    #[test]
    fn a_scalar_event_encodes_tag_value_and_step() {
        let e = event(1.5, 300, |out| bytes_field(out, 5, &summary(&[("a/b", 2.0)])));
        // wall_time: key 0x09 then 8 bytes; step: key 0x10 then varint 300.
        assert_eq!(e[0], 0x09);
        assert_eq!(f64::from_le_bytes(e[1..9].try_into().unwrap()), 1.5);
        assert_eq!(&e[9..12], &[0x10, 0xAC, 0x02]);
        // summary: key 0x2A, length, then value (key 0x0A, len, tag, 0x15, f32).
        assert_eq!(e[12], 0x2A);
        let value = &e[14..];
        assert_eq!(value[0], 0x0A);
        assert_eq!(value[2], 0x0A);
        assert_eq!(&value[4..7], b"a/b");
        assert_eq!(value[7], 0x15);
        assert_eq!(f32::from_le_bytes(value[8..12].try_into().unwrap()), 2.0);
    }

    #[test]
    fn non_finite_values_are_left_out_and_files_restart_clean() {
        let dir = std::env::temp_dir().join(format!("carrot-tb-{}", std::process::id()));
        let mut w = EventWriter::create(&dir, 0.0).unwrap();
        w.write_scalars(1, 0.0, &[("x", f64::NAN)]).unwrap();
        w.flush().unwrap();
        let header_only = fs::metadata(w.path()).unwrap().len();
        w.write_scalars(2, 0.0, &[("x", 1.0), ("y", f64::INFINITY)])
            .unwrap();
        w.flush().unwrap();
        let one_event = fs::metadata(w.path()).unwrap().len();
        assert!(one_event > header_only);
        let again = EventWriter::create(&dir, 0.0).unwrap();
        assert_eq!(fs::metadata(again.path()).unwrap().len(), header_only);
        fs::remove_dir_all(&dir).unwrap();
    }
}
