# Shared by every page: frame, navigation, signing in, registering and error pages.
skip-to-content = Skip to main content
nav-label = Main menu
nav-halls = Halls
nav-my-bookings = My bookings
nav-queue = Request queue
nav-calendar = Calendar
nav-search = Search
nav-calendar-links = Calendar links
nav-notifications = Notifications
switch-language = Norsk
signed-in-as = Signed in as { $name }
sign-in = Sign in
sign-out = Sign out
register = Register
footer-text = Lokal – booking the municipality's halls and rooms. Questions about a booking? Contact the service desk.
back-to-start = Back to the start page
form-has-errors = Please correct the form
login-title = Sign in
login-intro = Residents sign in with their email address. Staff sign in with their username from the municipality's directory.
login-login = Email or username
login-login-hint = For example kari.nordmann@example.no or erik.dahl
login-password = Password
login-no-account = No account yet?
login-error-login-missing = Enter your email address or username
login-error-password-missing = Enter your password
login-error-invalid = Wrong email, username or password.
login-error-too-many = Too many failed attempts from your connection. Wait { $seconds } { $seconds ->
    [one] second
   *[other] seconds
  } and try again. Signing in from elsewhere is not affected.
login-error-busy = Many people are signing in right now. Wait { $seconds } { $seconds ->
    [one] second
   *[other] seconds
  } and try again.
login-error-account-guarded = This account has had many failed sign-ins lately. So that the directory does not lock it, only devices that have signed in to it before may try for the next { $seconds } { $seconds ->
    [one] second
   *[other] seconds
  }. Wait, or sign in from a device you have used before.
login-error-unavailable = Signing in does not work right now. Please try again shortly.
register-title = Register
register-intro = With an account you can request halls and follow your requests.
register-name = Full name
register-email = Email
register-password = Password
register-password-hint = At least 10 characters.
register-password-again = Repeat the password
register-privacy = Your name and email address are shown only to you and the clerks, never publicly.
register-submit = Create account
register-error-name = Enter your name (at most 200 characters)
register-error-email = Enter an email address like name@example.no
register-error-password = The password needs at least 10 characters
register-error-password-again = The passwords do not match
register-error-too-many = Too many accounts were created from your connection. Wait { $seconds } { $seconds ->
    [one] second
   *[other] seconds
  } and try again.
register-error-busy = Many people are registering right now, and nothing was saved. Wait { $seconds } { $seconds ->
    [one] second
   *[other] seconds
  } and try again.
register-error-exists = An account with this email address already exists. Sign in instead.
error-not-found = Page not found
error-not-found-detail = The page does not exist, or you do not have access to it.
error-csrf = The form has expired
error-csrf-detail = The form could not be sent because its security token is missing or has expired. Go back, reload the page and try again.
error-bad-form = The form could not be read
error-bad-form-detail = The form's content was invalid ({ $detail }).
error-bad-address = The address is not valid ({ $detail }). Check the link, or go back and try again.
error-unavailable = The service does not answer
error-unavailable-detail = Lokal cannot reach its database or directory right now. Nothing was saved. Please try again shortly.
error-forbidden = No access
error-forbidden-detail = This page is for clerks.
notice-signed-out = You are signed out.
notice-registered = Your account is created and you are signed in.
word-and = and

# A booking's dates by status (issue 16), joined with commas: "8 approved, 1 rejected, 1 cancelled".
dates-approved = { $count } approved
dates-pending = { $count } pending
dates-rejected = { $count } rejected
dates-cancelled = { $count } cancelled
dates-expired = { $count } expired
dates-skipped = { $count } skipped
