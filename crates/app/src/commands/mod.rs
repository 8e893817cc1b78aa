pub mod review;
pub mod roles;
pub mod work;
