//! The rules of collection in Norway, as dated data and pure functions: the rulebook (rates, fees,
//! deadlines), forsinkelsesrente, the letters and when each may be sent, limitation (foreldelse),
//! KID and the business-day calendar. What a letter may demand on a given day is decided here.

pub mod calendar;
pub mod dunning;
pub mod interest;
pub mod kid;
pub mod legal;
pub mod letters;
pub mod limitation;
pub mod rulebook;
