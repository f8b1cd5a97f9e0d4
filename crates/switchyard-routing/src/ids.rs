//! Typed indexes into the route table: a `TargetId` names a target (a configured model) and a
//! `RouteId` a route, so neither can be mixed up with the other or with a tier or provider
//! index. Both are small (`u16`): a plan of 8 targets fits in 16 bytes inline.

use std::ops::Index;

use crate::route::Route;
use crate::target::Target;

/// A target: its position in `RouteTable::targets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TargetId(pub u16);

/// A route: its position in `RouteTable::routes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RouteId(pub u16);

/// Most targets or routes one table holds (ids are `u16`).
pub const MAX_IDS: usize = u16::MAX as usize;

impl TargetId {
    /// The id of the `i`th target (`i` < `MAX_IDS`, checked when the table is compiled).
    pub fn at(i: usize) -> TargetId {
        TargetId(u16::try_from(i).expect("the route table caps targets at MAX_IDS"))
    }

    /// Its position.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl RouteId {
    /// The id of the `i`th route (`i` < `MAX_IDS`, checked when the table is compiled).
    pub fn at(i: usize) -> RouteId {
        RouteId(u16::try_from(i).expect("the route table caps routes at MAX_IDS"))
    }

    /// Its position.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl Index<TargetId> for [Target] {
    type Output = Target;
    fn index(&self, id: TargetId) -> &Target {
        &self[id.index()]
    }
}

impl Index<TargetId> for Vec<Target> {
    type Output = Target;
    fn index(&self, id: TargetId) -> &Target {
        &self[id.index()]
    }
}

impl Index<RouteId> for [Route] {
    type Output = Route;
    fn index(&self, id: RouteId) -> &Route {
        &self[id.index()]
    }
}

impl Index<RouteId> for Vec<Route> {
    type Output = Route;
    fn index(&self, id: RouteId) -> &Route {
        &self[id.index()]
    }
}
