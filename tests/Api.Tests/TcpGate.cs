using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace PaliGemma2.DocPipeline.Api.Tests;

/// <summary>
/// A loopback TCP forwarder in front of the real RabbitMQ: closing it cuts every connection and refuses new
/// ones, as a broker outage does for the process behind it, without stopping the broker other tests share.
/// </summary>
internal sealed class TcpGate : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly Task _accept;
    private volatile bool _closed;

    public TcpGate(string targetHost, int targetPort)
    {
        _targetHost = targetHost;
        _targetPort = targetPort;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Cuts every open connection; new ones are closed at once until <see cref="Open"/>.</summary>
    public void Close()
    {
        _closed = true;
        foreach (var socket in _open.Keys)
        {
            Kill(socket);
        }
    }

    public void Open() => _closed = false;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Close();
        try
        {
            await _accept;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private void Kill(Socket socket)
    {
        _open.TryRemove(socket, out _);
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_closed)
            {
                Kill(client);
                continue;
            }

            _ = PumpAsync(client);
        }
    }

    private async Task PumpAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _open[client] = 0;
        _open[server] = 0;
        try
        {
            await server.ConnectAsync(_targetHost, _targetPort, _stop.Token);
            await Task.WhenAny(CopyAsync(client, server), CopyAsync(server, client));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            Kill(client);
            Kill(server);
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        var buffer = new byte[16384];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, _stop.Token)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
