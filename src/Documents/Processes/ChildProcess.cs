using System.Diagnostics;
using System.Text;

namespace PaliGemma2.DocPipeline.Documents.Processes;

/// <summary>
/// Runs a tool out of process under a wall-clock timeout and an address-space limit (via
/// util-linux <c>prlimit</c>), so a hostile file can hang or balloon the tool but not us.
/// </summary>
public static class ChildProcess
{
    /// <summary>Outcome of a run.</summary>
    /// <param name="ExitCode">Exit status; -1 when killed on timeout.</param>
    /// <param name="StdErr">Last part of standard error.</param>
    /// <param name="TimedOut">Whether the timeout killed it.</param>
    public sealed record Outcome(int ExitCode, string StdErr, bool TimedOut);

    /// <summary>Runs <paramref name="fileName"/> with arguments, limited in time and memory.</summary>
    public static async Task<Outcome> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, long memoryLimitBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var psi = new ProcessStartInfo("prlimit")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add($"--as={memoryLimitBytes}");
        psi.ArgumentList.Add("--");
        psi.ArgumentList.Add(fileName);
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = new Process { StartInfo = psi };
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stderr)
            {
                // Keep the tail: the last lines say why a tool gave up.
                if (stderr.Length > 8192)
                {
                    stderr.Remove(0, stderr.Length - 4096);
                }

                stderr.AppendLine(e.Data);
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new Outcome(-1, Tail(stderr), TimedOut: true);
        }

        return new Outcome(process.ExitCode, Tail(stderr), TimedOut: false);
    }

    private static string Tail(StringBuilder sb)
    {
        lock (sb)
        {
            var s = sb.ToString().Trim();
            return s.Length <= 4000 ? s : s[^4000..];
        }
    }
}
