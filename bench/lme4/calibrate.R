# lme4 on a valuetree ratings CSV (REML crossed random effects), for the side-by-side run.
# usage: Rscript calibrate.R ratings.csv out.csv [plain|units]
#   plain: score ~ 1 + (1|ratee) + (1|rater)
#   units: score ~ 1 + relationship + ratee_unit + rater_unit + (1|ratee) + (1|rater)
# Writes person_id,calibrated,std_error; prints the fit time on stderr.
args <- commandArgs(trailingOnly = TRUE)
model <- if (length(args) >= 3) args[3] else "plain"
suppressMessages(library(lme4))
d <- read.csv(args[1], colClasses = "character")
d$score <- as.numeric(d$score)
d$ratee <- factor(d$ratee_id)
d$rater <- factor(d$rater_id)
started <- proc.time()[["elapsed"]]
if (model == "units") {
  d$rel <- factor(d$relationship); d$tu <- factor(d$ratee_unit); d$ru <- factor(d$rater_unit)
  f <- score ~ 1 + rel + tu + ru + (1 | ratee) + (1 | rater)
} else {
  f <- score ~ 1 + (1 | ratee) + (1 | rater)
}
m <- lmer(f, data = d, REML = TRUE, control = lmerControl(calc.derivs = FALSE))
re <- ranef(m, condVar = TRUE)$ratee
seconds <- proc.time()[["elapsed"]] - started
se <- sqrt(as.vector(attr(re, "postVar")))
out <- data.frame(person_id = rownames(re), calibrated = re[, 1] + fixef(m)[["(Intercept)"]], std_error = se)
write.csv(out, args[2], row.names = FALSE, quote = FALSE)
message(sprintf("lme4 %s: fit %.2f s, %d ratings, %d ratees, %d raters", model, seconds, nrow(d), nlevels(d$ratee), nlevels(d$rater)))
