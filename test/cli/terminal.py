# Runs a command under a pseudo-terminal and types into it, as a person would.
# argv: the command. PTY_STEPS (JSON): [[text to wait for, keys to send], ...].
# Prints everything the terminal showed; exits with the command's exit code.
import json, os, pty, select, sys, time

steps = json.loads(os.environ["PTY_STEPS"])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

seen = b""
def read(timeout):
    global seen
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return False
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        return None
    if not chunk:
        return None
    seen += chunk
    return True

for wait, keys in steps:
    deadline = time.time() + 30
    while wait.encode() not in seen:
        if time.time() > deadline or read(1) is None:
            sys.stdout.write(seen.decode("utf8", "replace"))
            sys.stdout.write("\n[pty: gave up waiting for %r]\n" % wait)
            os.kill(pid, 9)
            sys.exit(99)
    # Only later output counts for the next wait.
    sys.stdout.write(seen.decode("utf8", "replace"))
    seen = b""
    time.sleep(0.2)
    os.write(fd, keys.encode())

deadline = time.time() + 60
while time.time() < deadline and read(1) is not None:
    pass
sys.stdout.write(seen.decode("utf8", "replace"))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
