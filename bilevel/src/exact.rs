//! Serde adapters that store floats as their bit patterns, so outer state survives a JSON
//! checkpoint bit for bit (serde_json's default float parsing can be off by one ulp).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub mod f64s {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|x| x.to_bits())
            .collect::<Vec<u64>>()
            .serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<u64>::deserialize(d)?
            .into_iter()
            .map(f64::from_bits)
            .collect())
    }
}

pub mod f64_bits {
    use super::*;
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        v.to_bits().serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(f64::from_bits(u64::deserialize(d)?))
    }
}

pub mod opt_f64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(f64::to_bits).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(f64::from_bits))
    }
}

pub mod f32_rows {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Vec<f32>], s: S) -> Result<S::Ok, S::Error> {
        let bits: Vec<Vec<u32>> = v
            .iter()
            .map(|r| r.iter().map(|x| x.to_bits()).collect())
            .collect();
        bits.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f32>>, D::Error> {
        let bits = Vec::<Vec<u32>>::deserialize(d)?;
        Ok(bits
            .into_iter()
            .map(|r| r.into_iter().map(f32::from_bits).collect())
            .collect())
    }
}

/// A PCG stream as the JSON text of its state: its 128-bit words do not fit a
/// `serde_json::Value` number, which is how hooks hand their state to the checkpoint.
pub mod rng_text {
    use super::*;
    use rand_pcg::Pcg64Mcg;
    pub fn serialize<S: Serializer>(v: &Pcg64Mcg, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        text.serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pcg64Mcg, D::Error> {
        serde_json::from_str(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
