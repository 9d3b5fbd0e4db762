using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>A deployable (Api, Worker, Cli) run as its own process from its build output.</summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static string Dll(string project, string assembly)
    {
        // Same configuration as the tests themselves were built with.
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(TestServices.RepoRoot, "src", project, "bin", configuration, "net10.0", assembly + ".dll");
        Assert.True(File.Exists(path), $"{path} is not built");
        return path;
    }

    public static ServiceProcess Start(string dll, IDictionary<string, string> environment, string? workingDirectory = null, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        return new ServiceProcess(Process.Start(psi)!);
    }

    /// <summary>Runs the <c>docpipe</c> CLI in <paramref name="workingDirectory"/> to completion.</summary>
    public static async Task<(int Exit, string Output)> DocpipeAsync(string workingDirectory, params string[] args)
    {
        var env = new Dictionary<string, string> { ["COLUMNS"] = "240", ["NO_COLOR"] = "1" };
        await using var p = Start(Dll("Cli", "docpipe"), env, workingDirectory, args);
        var exit = await p.WaitForExitAsync(TimeSpan.FromMinutes(3));
        return (exit, p.Output);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
